"""Every Mermaid diagram the project shows is valid Mermaid: the docs' blocks and what ``agent-engine graph`` prints.

Each is parsed and rendered by mermaid itself (the bundle vendored by tools/vendor_mermaid.py) in Debian's
chromium, driven by playwright, with one browser for the whole session (``tools/mermaid_check.py``). Nothing is
fetched: the check runs offline. Without chromium the tests skip with the reason, except under CI, where they
fail (``.ci/run`` installs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _workflows import choose, engine, node
from browser import for_tests
from click.testing import CliRunner
from doc_blocks import ROOT, Fenced, fenced_blocks, markdown_files
from hypothesis import given, settings
from hypothesis import strategies as st
from mermaid_check import Mermaid

from agent_engine_core.cli import main, mermaid

BLOCKS = [block for path in markdown_files() for block in fenced_blocks(path) if block.lang == "mermaid"]
EXAMPLES = sorted(path.parent for path in (ROOT / "examples").glob("**/workflow.yaml"))


@pytest.fixture(scope="session")
def checker() -> Iterator[Mermaid]:
    """One chromium page with mermaid loaded, for the whole session."""
    made = Mermaid(for_tests("checking the Mermaid diagrams"))
    yield made
    made.close()


def test_the_checker_reports_an_invalid_diagram(checker: Mermaid):
    assert checker.error("flowchart TD\n    a --> b\n") is None
    assert "Parse error" in (checker.error("flowchart TD\n    a -->\n") or "")
    assert checker.error("stateDiagram-v2\n    [*] --> [*] --> \n") is not None


def test_the_docs_have_the_diagrams_they_promise():
    architecture = [b for b in BLOCKS if b.path == ROOT / "docs" / "ARCHITECTURE.md"]
    assert len(architecture) >= 5
    assert {b.text.split(None, 1)[0] for b in architecture} >= {"flowchart", "stateDiagram-v2", "sequenceDiagram"}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block.where)
def test_a_mermaid_block_of_the_docs_renders(block: Fenced, checker: Mermaid):
    assert checker.error(block.text) is None, f"{block.where}: {checker.error(block.text)}"


@pytest.mark.parametrize("config_dir", EXAMPLES, ids=lambda path: str(path.relative_to(ROOT)))
def test_agent_engine_graph_of_an_example_renders(config_dir: Path, checker: Mermaid):
    done = CliRunner().invoke(main, ["graph", str(config_dir)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("flowchart TD\n")
    assert checker.error(done.output) is None, f"agent-engine graph {config_dir}: {checker.error(done.output)}"


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=24)
node_ids = st.lists(st.from_regex(r"[a-z0-9_.-]{1,4}", fullmatch=True), min_size=4, max_size=6, unique=True)


@settings(max_examples=30, deadline=None)
@given(ids=node_ids, start=names, decision=names, labels=st.lists(names, min_size=2, max_size=4, unique=True))
def test_graph_renders_whatever_the_ids_names_and_labels(checker: Mermaid, ids: list[str], start: str,
                                                         decision: str, labels: list[str]):
    """Display names and edge labels are free text (quotes, brackets, backticks, ``#``, ``|``, new lines, any
    script); node ids may hold ``.`` and ``-``, so ``a.b`` and ``a_b`` must still be two nodes."""
    begin, pick, *outs = ids
    labels = labels[:len(outs)]
    made = engine([node(begin, "start", name=start), node(pick, "decision", choose(labels[0]), name=decision),
                   *(node(out, "exit") for out in outs[:len(labels)])],
                  [(begin, pick), *((pick, out, label) for out, label in zip(outs, labels, strict=False))])
    text = mermaid(made.dag)
    declared = [line.split("(")[0].split("{")[0].split("[")[0].strip() for line in text.split("\n")[1:-1]
                if "-->" not in line and not line.strip().startswith(("class", "classDef"))]
    assert len(set(declared)) == len(made.dag.order) == len(declared)
    assert checker.error(text) is None, f"{text}\n{checker.error(text)}"
