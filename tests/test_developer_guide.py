"""docs/DEVELOPER_GUIDE.md works as written: its files make a project, its commands print what it shows.

The fenced blocks whose info string says ``title="PATH"`` are written to a fresh folder; then each ```console
block's command is run there, in the page's order (a later command may use what an earlier one wrote), and
its standard output is compared with the page as tests/test_docs_figures.py compares GETTING_STARTED's (``...``
elides). The set-up commands are the README's, which CI runs.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from doc_blocks import ROOT, Fenced, fenced_blocks
from test_docs_figures import COMMAND, assert_json_shows, assert_shows, run_in, shown_json

GUIDE = ROOT / "docs" / "DEVELOPER_GUIDE.md"
BLOCKS = fenced_blocks(GUIDE)
TITLE = re.compile(r'title="([^"]+)"')
FILES = {TITLE.search(b.info).group(1): b for b in BLOCKS if TITLE.search(b.info)}  # type: ignore[union-attr]
CONSOLE = [b for b in BLOCKS if b.lang == "console"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the files the guide shows, where its commands run one after the other."""
    folder = tmp_path_factory.mktemp("guide")
    for name, block in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(block.text + "\n", encoding="utf-8")
    return folder


def test_the_guide_shows_a_whole_project_and_its_commands():
    assert {"triage/workflow.yaml", "triage/nodes.py", "triage/agents.yaml", "triage/evaluations.yaml",
            "triage/schemas/tickets.json", "triage/test_triage.py"} <= set(FILES)
    commands = [b.text.split("\n", 1)[0] for b in CONSOLE]
    assert all(c.startswith(("$ agent-engine ", "$ python -m pytest ")) for c in commands), commands
    assert len(commands) >= 7


def test_the_setup_command_is_the_readmes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    setup = [line for b in BLOCKS if b.lang == "bash" for line in b.text.splitlines() if "venv" in line]
    assert setup and all(line in readme for line in setup)


def test_the_mermaid_figure_is_what_graph_prints():
    graph = next(b for b in CONSOLE if b.text.startswith("$ agent-engine graph"))
    figure = next(b for b in BLOCKS if b.lang == "mermaid")
    assert graph.text.split("\n", 1)[1] == figure.text


@pytest.mark.parametrize("block", CONSOLE, ids=lambda block: block.where)
def test_a_command_of_the_guide_prints_what_it_shows(block: Fenced, project: Path):
    command, _, shown = block.text.partition("\n")
    argv = shlex.split(command[2:])
    if argv[0] == "agent-engine":
        argv = [*COMMAND, *argv[1:]]
    else:  # python -m pytest: the guide's own test of its project, in this interpreter, writing no cache
        argv = [sys.executable, *argv[1:3], "-p", "no:cacheprovider", *argv[3:]]
    done = run_in(project, argv)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    position = BLOCKS.index(block)
    after = BLOCKS[position + 1] if position + 1 < len(BLOCKS) else None
    if not shown.strip():
        assert after is not None and after.lang == "json", f"{block.where}: no output shown"
        assert_json_shows(shown_json(after.text), json.loads(done.stdout), f"{block.where} ({command})")
    else:
        assert_shows(shown, done.stdout, f"{block.where} ({command})")
