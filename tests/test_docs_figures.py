"""The figures the docs show (command output, digests, hashes, manifests) are what the code gives today.

Each ```console block of a checked doc that starts with ``$ agent-engine ...`` is run as written, from a copy of
the repository's ``examples`` in a temporary folder, with plugin discovery off (a core-only install, as in
GETTING_STARTED's step 1), and its standard output is compared with the lines the doc shows. A ```json block
right after a command that shows no output is that command's JSON output, or the member of it with the same
keys (as when the doc shows only ``error``). In what a doc shows:

* a line ``...`` stands for any lines, and a text ending in ``...`` for any text that starts with it
  (``"trace_digest": "953f29951b8b..."``);
* an object whose last member is ``...`` (``{"a": 1, ...}``) may have more members.

GETTING_STARTED's ```python block is run, and what it prints must be the plain ``` block after it, which must hold
the ``# comments`` of its ``print(...)`` lines. When a figure drifts, run the doc's command and copy what it
prints into the doc.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_engine_core import Engine

ROOT = Path(__file__).resolve().parents[1]
GETTING_STARTED = ROOT / "docs" / "GETTING_STARTED.md"
HELLO_README = ROOT / "examples" / "hello" / "README.md"
_SCRIPT = Path(sys.executable).with_name("agent-engine")
_FALLBACK = [sys.executable, "-c", "from agent_engine_core.cli import main; main()"]
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else _FALLBACK
MORE = "\u2026more\u2026"
"""The key a trailing ``...`` member of an object becomes once the doc's JSON is parsed."""


@dataclass(frozen=True)
class Block:
    """A fenced block of a Markdown file: its language (``""`` for none), its text and its first line."""

    lang: str
    text: str
    line: int


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = lines[index]
        if opening.startswith("```"):
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            found.append(Block(opening[3:].strip(), "\n".join(lines[index + 1:end]), index + 2))
            index = end
        index += 1
    return found


# --- matching what a doc shows against what the code gives -------------------------------------------------------


def text_pattern(shown: str) -> re.Pattern[str]:
    """A regex for output shown as ``shown``: ``...`` lines are any lines, a trailing ``...`` any text."""
    parts = []
    for line in shown.splitlines():
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.split("...")) + r"\n")
    return re.compile("".join(parts))


def assert_shows(shown: str, actual: str, where: str) -> None:
    text = actual if actual.endswith("\n") else actual + "\n"
    if not text_pattern(shown).fullmatch(text):
        pytest.fail(f"{where} shows:\n{shown}\n\nbut the command prints:\n{actual}")


def shown_json(text: str) -> Any:
    """The doc's JSON, with a trailing ``...`` member of an object read as 'more members may follow'."""
    return json.loads(re.sub(r",\s*\.\.\.\s*}", lambda _: f", {json.dumps(MORE)}: true}}", text))


def json_mismatch(shown: Any, actual: Any, at: str = "") -> str | None:
    """Where ``actual`` differs from what the doc shows (``None``: it matches)."""
    if isinstance(shown, str) and shown.endswith("..."):
        return None if isinstance(actual, str) and actual.startswith(shown[:-3]) else f"{at or '/'}: {actual!r}"
    if isinstance(shown, dict) and isinstance(actual, dict):
        more = MORE in shown
        keys = set(shown) - {MORE}
        if keys - set(actual) or (not more and set(actual) - keys):
            return f"{at or '/'}: keys {sorted(actual)}, the doc shows {sorted(keys)}"
        return next((m for k in sorted(keys) if (m := json_mismatch(shown[k], actual[k], f"{at}/{k}"))), None)
    if isinstance(shown, list) and isinstance(actual, list) and len(shown) == len(actual):
        return next((m for i, (s, a) in enumerate(zip(shown, actual, strict=True))
                     if (m := json_mismatch(s, a, f"{at}/{i}"))), None)
    return None if shown == actual else f"{at or '/'}: {actual!r}, the doc shows {shown!r}"


def assert_json_shows(shown: Any, actual: Any, where: str) -> None:
    candidates = [actual, *(actual.values() if isinstance(actual, dict) else ())]
    same_keys = [c for c in candidates if isinstance(c, dict) and isinstance(shown, dict)
                 and set(shown) - {MORE} <= set(c)]
    mismatch = json_mismatch(shown, same_keys[0] if same_keys else actual)
    assert mismatch is None, f"{where}: {mismatch}\n\nthe command prints:\n{json.dumps(actual, indent=2)}"


# --- running what a doc shows --------------------------------------------------------------------------------------


def _typo_and_dangling_edge(folder: Path) -> None:
    """GETTING_STARTED §3's my_hello: ``rol: linear`` for greet, and an edge to a node that does not exist."""
    shutil.copytree(folder / "examples" / "hello", folder / "my_hello")
    workflow = folder / "my_hello" / "workflow.yaml"
    lines = workflow.read_text().splitlines(keepends=True)
    greet = lines.index("  - id: greet\n")
    lines[greet + 2] = lines[greet + 2].replace("role: linear", "rol: linear")
    lines = [line.replace("{from: greet, to: greeted}", "{from: greet, to: greeting_done}") for line in lines]
    workflow.write_text("".join(lines))


def _openai_router(folder: Path) -> None:
    """examples/hello/README's 'after changing llm: to "openai/gpt-4o-mini"' (the adapter is not loaded)."""
    agents = folder / "examples" / "hello" / "agents.yaml"
    agents.write_text(agents.read_text().replace('llm: "scripted/router"', 'llm: "openai/gpt-4o-mini"'))


SETUPS: dict[str, Callable[[Path], None]] = {
    "validate my_hello": _typo_and_dangling_edge,
    'after changing llm: to "openai/gpt-4o-mini"': _openai_router,
}
"""What a doc says was done before its command (a text of the command line -> the change it describes)."""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A folder with a copy of the repository's examples, where the docs' commands run."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def run_in(folder: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD": "1", "COLUMNS": "200"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=folder, env=env, check=False)


@dataclass(frozen=True)
class Figure:
    """A command a doc shows, and what it shows it printing (text, or the JSON block after it)."""

    doc: Path
    line: int
    command: str
    text: str
    json_block: Block | None

    @property
    def id(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def figures(doc: Path) -> Iterator[Figure]:
    found = blocks(doc)
    for position, block in enumerate(found):
        first, _, shown = block.text.partition("\n")
        if block.lang != "console" and not (block.lang == "" and first.startswith("$ agent-engine")):
            continue
        assert first.startswith("$ agent-engine "), f"{doc}:{block.line}: a console block starts with its command"
        after = found[position + 1] if position + 1 < len(found) else None
        json_block = after if not shown.strip() and after is not None and after.lang == "json" else None
        yield Figure(doc, block.line, first[2:], shown, json_block)


FIGURES = [*figures(GETTING_STARTED), *figures(HELLO_README)]


def test_the_checked_docs_show_commands_to_check():
    assert {f.doc for f in FIGURES} == {GETTING_STARTED, HELLO_README}
    assert sum(f.json_block is not None for f in FIGURES) >= 2


@pytest.mark.parametrize("figure", FIGURES, ids=lambda f: f.id)
def test_a_command_prints_what_the_doc_shows(figure: Figure, workspace: Path):
    for text, setup in SETUPS.items():
        if text in figure.command:
            setup(workspace)
    argv = shlex.split(figure.command, comments=True)
    assert argv[0] == "agent-engine"
    done = run_in(workspace, [*COMMAND, *argv[1:]])
    assert "Traceback" not in done.stdout + done.stderr
    where = f"{figure.id} ({figure.command})"
    if figure.json_block is not None:
        assert_json_shows(shown_json(figure.json_block.text), json.loads(done.stdout), where)
    else:
        assert figure.text.strip(), f"{where}: the doc shows no output for the command"
        assert_shows(figure.text, done.stdout, where)


# --- GETTING_STARTED's other figures -------------------------------------------------------------------------------


def _block_after(doc: Path, heading: str, lang: str) -> Block:
    text = doc.read_text(encoding="utf-8")
    start = text.index(heading)
    line = text.count("\n", 0, start) + 1
    return next(b for b in blocks(doc) if b.line > line and b.lang == lang)


@pytest.mark.parametrize(("heading", "manifest"), [("### workflow.yaml", "workflow.yaml"),
                                                   ("### agents.yaml", "agents.yaml")])
def test_the_manifests_shown_are_the_examples(heading: str, manifest: str):
    shown = yaml.safe_load(_block_after(GETTING_STARTED, heading, "yaml").text)
    actual = yaml.safe_load((ROOT / "examples" / "hello" / manifest).read_text())
    assert json_mismatch(shown, actual) is None, json_mismatch(shown, actual)


def test_the_stage_table_is_the_trace_of_the_demo_run():
    """§5's table: each row's seq, node and next, and the input and output where the doc writes them as JSON."""
    text = GETTING_STARTED.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if re.match(r"\| \d+ \| `", line)]
    result = Engine.from_config_dir(ROOT / "examples" / "hello").run({"request": "Hello, Agent Engine!"},
                                                                     run_id="demo")
    trace = list(result.trace)
    assert len(rows) == len(trace)
    for row, record in zip(rows, trace, strict=True):
        seq, node, given, made, following = (cell.strip() for cell in row.strip("|").split("|"))
        assert (int(seq), node.strip("`")) == (record.seq, record.node_id), row
        assert following in (f"`{' '.join(record.route)}`", "(end)" if not record.route else ""), row
        for cell, value in ((given, record.input), (made, record.output)):
            snippet = re.match(r"`([^`]*)`", cell)
            if snippet is None:  # prose: not a figure
                continue
            try:
                shown = json.loads(snippet.group(1))
            except json.JSONDecodeError:  # JSON with ... in it: not a figure either
                continue
            assert shown == value, row


def test_the_python_section_prints_what_the_doc_shows(workspace: Path):
    code = _block_after(GETTING_STARTED, "## 6. From Python", "python")
    printed = _block_after(GETTING_STARTED, "## 6. From Python", "")
    assert printed.line > code.line
    comments = [line.split("#", 1)[1].strip() for line in code.text.splitlines()
                if line.startswith("print(") and "#" in line]
    assert comments and all(comment in printed.text.splitlines() for comment in comments)
    done = run_in(workspace, [sys.executable, "-c", code.text])
    assert done.returncode == 0, done.stderr
    assert_shows(printed.text, done.stdout, f"{GETTING_STARTED.name}:{printed.line}")
