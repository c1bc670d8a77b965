"""``agent-engine run`` keeps runs in the project's SQLite run store; ``replay --from`` re-runs from a node."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_engine_core.cli import main
from agent_engine_core.inspector import open_inspector

HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"

pytest.importorskip("agent_engine_memory_sqlite")


@pytest.fixture
def project(tmp_path):
    target = tmp_path / "hello"
    shutil.copytree(HELLO, target, ignore=shutil.ignore_patterns(".agent_engine", "__pycache__"))
    return target


def cli(*args: str) -> tuple[int, str, str]:
    done = CliRunner().invoke(main, list(args))
    return done.exit_code, done.stdout, done.stderr


def test_a_run_is_kept_under_the_project_unless_no_store_is_given(project):
    code, out, _ = cli("run", str(project), "--input", '{"request": "Hello there"}', "--run-id", "kept", "--json")
    assert code == 0, out
    assert (project / ".agent_engine" / "runs.db").is_file()
    code, _, _ = cli("run", str(project), "--input", '{"request": "Hello there"}', "--run-id", "not-kept",
                     "--no-store")
    assert code == 0
    inspector, close = open_inspector(project, runs="local")
    try:
        assert [s.run_id for s in inspector.runs()] == ["kept"]
        assert inspector.run("kept").result == json.loads(out)
    finally:
        close()


def test_replay_from_a_node_with_an_edited_input_is_a_new_linked_run(project):
    cli("run", str(project), "--input", '{"request": "Hello there"}', "--run-id", "first")
    edited = {"text": "Goodbye all of you", "words": ["goodbye", "all", "of", "you"], "word_count": 4}
    code, out, err = cli("replay", str(project), "first", "--from", "greet", "--input", json.dumps(edited),
                         "--run-id", "second", "--json")
    assert code == 0, err
    assert json.loads(out)["output"] == {"reply": "Hello! You said 4 word(s).", "in_reply_to": "Goodbye all of you"}
    inspector, close = open_inspector(project, runs="local")
    try:
        second = inspector.run("second")
        assert second.origin == {"run_id": "first", "from_node": "greet", "input_changed": True}
        first = inspector.run("first")
        assert [r.canonical() for r in second.trace.records[:2]] == [
            r.canonical().replace('"task":"first"', '"task":"second"') for r in first.trace.records[:2]]
        difference = inspector.diff("first", "second")
        assert difference is not None and difference.left["node"] == "greet" and "input" in difference.fields
    finally:
        close()


def test_a_full_replay_of_a_stored_run_reproduces_its_digest(project):
    cli("run", str(project), "--input", '{"request": "Bye for now"}', "--run-id", "bye")
    code, out, err = cli("replay", str(project), "bye")
    assert code == 0, err
    assert "the digest matches the recording of run bye" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--input", "{}"], "--input and --offline go with --from NODE"),
    (["--from", "greet", "--input", "{nope"], "--input is not valid JSON"),
    (["--from", "nowhere"], "the workflow has no node 'nowhere'"),
    (["--from", "farewell"], "no stage of its root task at node 'farewell'; its root task ran: normalize, route, "
                             "greet, greeted"),
])
def test_replay_from_misuse_exits_2_with_a_message(project, args, message):
    cli("run", str(project), "--input", '{"request": "Hello there"}', "--run-id", "first")
    code, out, err = cli("replay", str(project), "first", *args)
    assert code == 2, out + err
    assert message in err
    assert "Traceback" not in err


def test_replaying_a_run_the_store_does_not_have_names_what_a_recording_is(project):
    code, _, err = cli("replay", str(project), "never-ran", "--from", "greet")
    assert code == 2
    assert "cannot replay never-ran: no such file or folder" in err
    assert "a run id in the project's run store" in err
