"""examples/mini_editor: ``agent-engine run`` and ``run_mini_editor.py`` create and edit documents, and the
README's session transcript is what the REPL prints when its lines are typed again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import COMMAND

pytest.importorskip("agent_engine_tools_std", reason="the mini editor's file tools are agent-engine-tools-std's")
pytest.importorskip("agent_engine_memory_sqlite", reason="the mini editor keeps its documents in SQLite")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mini_editor"
RUN_ID = re.compile(r"run-[0-9a-f]{16}")


@pytest.fixture
def editor(tmp_path):
    """A fresh copy of the example (no workspace documents, no memory, no sessions)."""
    return Path(shutil.copytree(EXAMPLE, tmp_path / "mini_editor",
                                ignore=shutil.ignore_patterns(".agent_engine", "*.md", "__pycache__")))


def run(config: Path, request: dict) -> dict:
    done = subprocess.run([*COMMAND, "run", str(config), "--json", "--input", json.dumps(request)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_agent_engine_run_creates_a_document_then_an_edit_changes_it(editor):
    created = run(editor / "config", {"request": "Write a short note about tides"})["output"]
    assert created == {"path": "tides.md", "mode": "create", "title": "Tides", "length": 8,
                       "sections": ["Overview"], "tone": "neutral"}
    document = editor / "workspace" / "tides.md"
    first = document.read_text(encoding="utf-8")
    assert first == "# Tides\n\n## Overview\n\nWrite a short note about tides.\n"

    edited = run(editor / "config", {"request": "Add a formal section on spring tides", "path": "tides.md"})
    assert edited["output"]["mode"] == "edit" and edited["output"]["tone"] == "formal"
    assert edited["output"]["sections"] == ["Overview", "Revision 1"]
    second = document.read_text(encoding="utf-8")
    assert second.startswith(first) and second != first
    assert second.endswith("## Revision 1\n\nAdd a formal section on spring tides.\n")
    assert edited["output"]["length"] == len(re.findall(r"\w+", second))


def test_an_edit_is_shown_the_earlier_drafts_from_document_memory(editor):
    run(editor / "config", {"request": "Write a short note about tides"})
    edit = run(editor / "config", {"request": "Edit tides.md: shorten it"})
    done = subprocess.run([*COMMAND, "inspect", str(editor / "config"), "stage", edit["task_id"], "draft_document",
                           "--json"], capture_output=True, text=True, check=True, timeout=60)
    context = json.loads(done.stdout)["context"]
    assert [(e["store"], e["payload"]["path"]) for e in context] == [("project", "tides.md")]
    assert context[0]["payload"]["content"].startswith("# Tides\n")


def test_run_mini_editor_starts_the_repl_with_the_profile(editor, tmp_path):
    done = subprocess.run([sys.executable, str(editor / "run_mini_editor.py")], capture_output=True, text=True,
                          input="Write a short note about lighthouses\n", timeout=120, check=False,
                          env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")})
    assert done.returncode == 0, done.stderr
    assert "profile mini_editor" in done.stdout
    assert "editor> Write a short note about lighthouses\n#1 success" in done.stdout
    assert (editor / "workspace" / "lighthouses.md").read_text(encoding="utf-8").startswith("# Lighthouses\n")


def readme_session() -> list[str]:
    """The lines of the README's session transcript."""
    text = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    block = text.split("## A session", 1)[1].split("```text\n", 1)[1].split("\n```", 1)[0]
    return block.splitlines()


def test_the_readme_session_is_what_the_repl_prints(editor, tmp_path):
    expected = readme_session()
    typed = [line.removeprefix("editor> ") for line in expected if line.startswith("editor> ")]
    assert {"/attach notes.txt", "/history", "/retry", "/edit-last"} <= set(typed)
    (running,) = [line.removeprefix("running: ") for line in expected if line.startswith("running: ")]
    script = tmp_path / "editor.py"
    script.write_text(f"import sys\nopen(sys.argv[1], 'w').write({running!r} + '\\n')\n", encoding="utf-8")
    (editor / "notes.txt").write_text("Spring tides come twice a month, at the full and the new moon.\n",
                                      encoding="utf-8")
    done = subprocess.run([sys.executable, "run_mini_editor.py"], cwd=editor, capture_output=True, text=True,
                          input="".join(f"{line}\n" for line in typed), timeout=120, check=False,
                          env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg"),
                               "EDITOR": f"{sys.executable} {script}", "VISUAL": ""})
    assert done.returncode == 0, done.stderr
    printed = [line.rstrip() for line in done.stdout.splitlines()[1:]]  # after the banner, which names the folder
    assert [RUN_ID.sub("run-…", line) for line in printed] == [RUN_ID.sub("run-…", line) for line in expected]
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    shown = readme.split("`workspace/tides.md` is then:\n\n```markdown\n", 1)[1].split("```", 1)[0]
    assert (editor / "workspace" / "tides.md").read_text(encoding="utf-8") == shown
