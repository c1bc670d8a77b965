"""``agent-engine repl``: typed through prompt_toolkit's pipe input, as a person at a terminal would type.

The mini editor is the project (copied to a temporary folder); each launch is the real click command in this
process, its prompt reading keys from a pipe (``create_pipe_input`` inside ``create_app_session``).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import types
from pathlib import Path

import click
import pytest
from _cli import cli_logging_restored  # noqa: F401 - fixture
from click.testing import CliRunner
from prompt_toolkit.application import create_app_session
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from agent_engine_core import hookimpl
from agent_engine_core.cli import main

pytest.importorskip("agent_engine_tools_std", reason="the mini editor's file tools are agent-engine-tools-std's")
pytest.importorskip("agent_engine_memory_sqlite", reason="the mini editor keeps its documents in SQLite")

pytestmark = pytest.mark.usefixtures("cli_logging_restored")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mini_editor"
ENTER = "\r"
EDITED = "Edit tides.md: add a section on spring tides, in a formal tone"


@pytest.fixture
def editor_copy(tmp_path, monkeypatch):
    """The mini editor in a temporary folder, with a private line history and an EDITOR that rewrites the input."""
    root = Path(shutil.copytree(EXAMPLE, tmp_path / "mini_editor",
                                ignore=shutil.ignore_patterns(".agent_engine", "*.md")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    script = tmp_path / "editor.py"
    script.write_text(f"import sys\nopen(sys.argv[1], 'w').write({EDITED!r} + '\\n')\n", encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.chdir(tmp_path)
    return root


def typed(*lines: str, args: tuple[str, ...] = (), plugins: tuple[object, ...] = ()) -> click.testing.Result:
    """Launch the REPL on the mini editor and type ``lines`` (each followed by Enter) into its prompt."""
    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        keys.send_text("".join(line + ENTER for line in lines))
        return CliRunner().invoke(main, ["repl", "mini_editor/config", *args])


def test_a_session_types_edits_retries_attaches_and_comes_back_with_its_history(editor_copy, tmp_path):
    (tmp_path / "notes.txt").write_text("Spring tides follow the full and the new moon.\n", encoding="utf-8")
    first = typed("Write a short note about tides", "/history", "/retry", "/edit-last",
                  "/attach notes.txt", "Edit tides.md: quote the attached notes", "/quit")
    assert first.exit_code == 0, first.output
    assert "Traceback" not in first.output
    workspace = editor_copy / "workspace"
    assert sorted(p.name for p in workspace.glob("*.md")) == ["tides-2.md", "tides.md"]  # /retry created again
    document = (workspace / "tides.md").read_text(encoding="utf-8")
    assert document.startswith("# Tides\n\n## Overview\n\nWrite a short note about tides.\n")
    assert "## Revision 1\n\nEdit tides.md: add a section on spring tides, in a formal tone.\n" in document
    assert "## Revision 2" in document and "> Spring tides follow the full and the new moon." in document
    assert f"running: {EDITED}" in first.output
    assert "attached notes.txt" in first.output

    session = json.loads((editor_copy / "config" / ".agent_engine" / "sessions" / "mini_editor.json").read_text())
    turns = session["turns"]
    assert [t["input"]["request"] for t in turns] == [
        "Write a short note about tides", "Write a short note about tides", EDITED,
        "Edit tides.md: quote the attached notes"]
    assert [t["status"] for t in turns] == ["success"] * 4
    assert turns[2]["output"]["mode"] == "edit" and turns[2]["output"]["tone"] == "formal"
    assert turns[3]["input"]["attachments"] == [
        {"name": "notes.txt", "content": "Spring tides follow the full and the new moon.\n"}]
    assert session["attachments"] == []  # taken by the input they went with

    second = typed("/history", "/quit")
    assert second.exit_code == 0, second.output
    assert "4 earlier turns" in second.output
    for turn in turns:
        assert turn["run_id"] in second.output
    history = (tmp_path / "xdg" / "agent-engine" / "repl_history").read_text(encoding="utf-8")
    assert "+Write a short note about tides" in history and "+/edit-last" in history


def test_errors_are_one_line_each_and_the_session_goes_on(editor_copy, tmp_path):
    result = typed("/inspect", "/bogus", "/attach missing.txt", "/inspect run-nope", "/retry",
                   "Write a note about the moon", "/inspect #1 nowhere", "/quit")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert "error: there is no earlier input in this session yet" in lines
    assert "error: unknown command /bogus; /help lists them" in lines
    assert any(line.startswith("error: cannot attach missing.txt: No such file") for line in lines)
    assert any(line.startswith("error: no stored run 'run-nope'") for line in lines)
    assert (editor_copy / "workspace" / "moon.md").is_file()  # the session went on after every error
    assert any(line.startswith("error: run ") and "has no stage at node 'nowhere'" in line for line in lines)


def test_a_failed_run_is_reported_and_recorded_not_raised(editor_copy):
    (editor_copy / "workspace" / "notes.md").mkdir()  # a folder where the document should be written
    result = typed("Write notes.md about the sea", "/history", "/quit")
    assert result.exit_code == 0, result.output
    assert "#1 failure" in result.output
    assert "error: [agent] at node 'draft_document'" in result.output
    session = json.loads((editor_copy / "config" / ".agent_engine" / "sessions" / "mini_editor.json").read_text())
    assert session["turns"][0]["status"] == "failure"


@click.command(name="wordcount", short_help="Count the words of the workspace's documents.")
@click.argument("folder")
def wordcount(folder: str) -> None:
    words = sum(len(p.read_text().split()) for p in Path(folder).glob("*.md"))
    click.echo(f"{words} words")


@click.command(name="explode")
def explode() -> None:
    raise RuntimeError("the plugin's own bug")


ECHO = """\
version: "1.0"
nodes:
  - {id: take, role: start, schema_in: {type: object, properties: {text: {type: string}}}}
  - {id: done, role: exit}
edges:
  - {from: take, to: done}
"""


@pytest.fixture
def echo_project(tmp_path, monkeypatch):
    """A project of two pass-through nodes (no plugin needed), without cli_profiles.yaml."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    root = tmp_path / "echo"
    root.mkdir()
    (root / "workflow.yaml").write_text(ECHO, encoding="utf-8")
    return root


def test_plugin_commands_run_as_slash_commands_guarded_like_the_cli(echo_project, fake_entry_points):
    module = types.ModuleType("acme_words")
    module.register_cli_commands = hookimpl(lambda register: (register(wordcount), register(explode)))
    fake_entry_points(("acme", module, "agent-engine-acme"))
    (echo_project / "a.md").write_text("one two three", encoding="utf-8")
    result = CliRunner().invoke(main, ["repl", str(echo_project)],
                                input=f"/wordcount {echo_project}\n/explode\n/help\n/wordcount\nhi\n")
    assert result.exit_code == 0, result.output
    assert "3 words" in result.output
    assert "internal error: RuntimeError: the plugin's own bug" in result.output
    assert "/wordcount" in result.output and "(plugin)" in result.output
    assert "error: Missing argument 'FOLDER'." in result.output
    assert '"text": "hi"' in result.output  # the session went on


def test_debug_shows_the_traceback_of_an_unexpected_error(echo_project, fake_entry_points):
    module = types.ModuleType("acme_boom")
    module.register_cli_commands = hookimpl(lambda register: register(explode))
    fake_entry_points(("acme", module, "agent-engine-acme"))
    quiet = CliRunner().invoke(main, ["repl", str(echo_project)], input="/explode\n")
    loud = CliRunner().invoke(main, ["repl", str(echo_project), "--debug"], input="/explode\n")
    assert "Traceback" not in quiet.output
    assert "Traceback (most recent call last)" in loud.output
    assert "RuntimeError: the plugin's own bug\n" in loud.output


def test_profiles_switch_and_render_their_own_way(editor_copy):
    result = typed("/profile", "/profile mini_editor_json", "Write a short note about tides", "/profile nope",
                   "/quit")
    assert result.exit_code == 0, result.output
    assert "* mini_editor" in result.output and "mini_editor_json" in result.output
    assert '"sections": [\n    "Overview"\n  ]' in result.output  # the json profile renders JSON
    assert "error: there is no profile 'nope'" in result.output
    sessions = editor_copy / "config" / ".agent_engine" / "sessions"
    assert json.loads((sessions / "mini_editor_json.json").read_text())["turns"][0]["status"] == "success"


def test_queued_inputs_run_later_and_become_turns(editor_copy):
    result = typed("/queue a note about rain", "/queue a note about snow", "/queue-status", "/run-queue",
                   "/history", "/quit")
    assert result.exit_code == 0, result.output
    assert "queued 2, running 0" in result.output
    assert "ran 2 queued inputs: 2 succeeded" in result.output
    assert sorted(p.name for p in (editor_copy / "workspace").glob("*.md")) == ["rain.md", "snow.md"]


def test_lines_from_a_pipe_are_echoed_after_the_prompt(editor_copy):
    result = CliRunner().invoke(main, ["repl", "mini_editor/config"],
                                input="Write a short note about tides\n/history\n")
    assert result.exit_code == 0, result.output
    assert "editor> Write a short note about tides\n#1 success" in result.output
    assert "editor> /history\n" in result.output


def test_completion_offers_commands_files_profiles_runs_and_node_ids(editor_copy, tmp_path):
    from rich.console import Console

    from agent_engine_core._repl import Repl
    from agent_engine_core._repl_cli import load_profiles
    from agent_engine_core._repl_terminal import TerminalReader

    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with Repl(editor_copy / "config", load_profiles(editor_copy / "config"), Console(file=io.StringIO())) \
            as shell, create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        shell.open("mini_editor")
        shell.handle("Write a short note about tides")
        completer = TerminalReader(shell)._session.completer

        def offered(text: str) -> list[str]:
            return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

        assert offered("/at") == ["attach"]
        assert offered("/q") == ["queue", "queue-status", "quit"]
        assert "tes.txt" in offered("/attach no")
        assert offered("/profile mini_editor_") == ["mini_editor_json"]
        run_id = shell.session.turns[0].run_id
        assert offered("/inspect ") == ["#1", run_id]
        assert offered(f"/inspect {run_id} dr") == ["draft_document"]
        assert offered("plain text") == []


def test_a_project_without_profiles_gets_one_from_its_input_schema(echo_project):
    result = CliRunner().invoke(main, ["repl", str(echo_project)], input="hello there\n")
    assert result.exit_code == 0, result.output
    assert "profile default" in result.output
    assert '"text": "hello there"' in result.output
