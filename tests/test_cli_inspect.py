"""``agent-engine inspect DIR runs|show|stage|artifacts|events``: stored runs, read back by another process."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time

import pytest
from _cli import COMMAND
from _inspect_runs import BOOM, GOOD, cli, cli_env, run, snapshot, stored_documents

from agent_engine_core import Engine
from agent_engine_core.cli import EXIT_USAGE
from agent_engine_core.inspector import RunView
from agent_engine_core.runs import StoredRun

pytest_plugins = ["_inspect_fixtures"]  # its fixtures: kit_path, project, stored


def no_traceback(output: str) -> None:
    assert "Traceback" not in output
    assert 'File "' not in output


def as_json(*args):
    done = cli(*args, "--json")
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def test_runs_lists_every_stored_run_newest_first_with_its_columns(stored):
    done = cli("inspect", stored, "runs")
    assert done.exit_code == 0, done.output
    rows = [line for line in done.stdout.splitlines() if line.startswith("│")]
    cells = [[cell.strip() for cell in row.strip("│").split("│")] for row in rows]
    assert [c[0] for c in cells] == ["bad", "ok"]
    bad, ok = cells
    assert bad[1:3] == ["bad", "failure"] and ok[1:3] == ["ok", "success"]
    assert (bad[5], ok[5]) == ("7", "7")  # begin ask split each*3 gather (failed) / begin ask split each*2 gather done
    assert (bad[6], ok[6]) == ("32", "32")  # two agent calls of 12 + 4 tokens each
    assert bad[7] == "-"
    started = dt.datetime.fromisoformat(bad[3])
    assert started.tzinfo is not None and abs(started.timestamp() - time.time()) < 3600
    listed = as_json("inspect", stored, "runs")
    assert [(r["run_id"], r["task_id"], r["status"], r["nodes"], r["tokens"]) for r in listed] == [
        ("bad", "bad", "failure", 7, 32), ("ok", "ok", "success", 7, 32)]


def test_runs_filters_by_status_age_and_count(stored):
    def ids(*options):
        return [r["run_id"] for r in as_json("inspect", stored, "runs", *options)]

    assert ids("--status", "success") == ["ok"]
    assert ids("--status", "partial") == []
    assert ids("--limit", "1") == ["bad"]
    assert ids("--since", "10m") == ["bad", "ok"]
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert ids("--since", tomorrow) == []
    assert ids("--since", "2000-01-01T00:00:00+00:00") == ["bad", "ok"]


@pytest.mark.parametrize("option", [["--since", "yesterday"], ["--since", "10 weeks"], ["--limit", "-1"],
                                    ["--status", "done"]])
def test_a_bad_filter_is_a_usage_error_naming_what_is_accepted(stored, option):
    done = cli("inspect", stored, "runs", *option)
    assert done.exit_code == EXIT_USAGE
    no_traceback(done.output)
    assert option[0] in done.output
    if option[0] == "--since":
        assert "ISO date/time" in done.output and "10m" in done.output


def test_show_gives_the_summary_and_the_path_of_every_task_indented_by_lineage(stored):
    done = cli("inspect", stored, "show", "bad")
    assert done.exit_code == 0, done.output
    text = done.stdout
    digest = RunView(StoredRun(*stored_documents(stored)["bad"])).trace.digest
    assert "run bad: failure" in text and f"digest:   {digest}" in text and "tokens:   32" in text
    assert "error:    [child_failure] at node 'gather': 1 of 3 children of 'split' failed" in text
    lines = text.splitlines()
    root = lines.index("task bad (root task): failure")
    path = [line.split("│")[1].strip() + ":" + line.split("│")[2].strip() for line in lines[root + 3:root + 7]]
    assert path == ["begin:success", "ask:success", "split:success", "gather:failure"]
    assert "  task bad/split#1 (subtask #1 of 'split'): failure" in lines
    child = lines.index("  task bad/split#1 (subtask #1 of 'split'): failure")
    assert lines[child + 3].startswith("  0   │ each │ failure")
    shown = as_json("inspect", stored, "show", "bad")
    assert [t["task_id"] for t in shown["tasks"]] == ["bad", "bad/split#0", "bad/split#1", "bad/split#2"]
    assert [s["node_id"] for s in shown["tasks"][0]["path"]] == ["begin", "ask", "split", "gather"]
    assert shown["tasks"][0]["path"][1]["route"] == ["split"]
    assert shown["error"]["details"] == {"failed": ["bad/split#1"]}


def test_show_of_a_child_task_shows_that_task_only(stored):
    shown = as_json("inspect", stored, "show", "bad/split#1")
    assert [t["task_id"] for t in shown["tasks"]] == ["bad/split#1"]
    assert shown["tasks"][0]["error"]["message"] == "ValueError: cannot take boom"


def test_a_replayed_run_is_listed_and_shown_with_its_origin(project):
    folder = project()
    with Engine.from_config_dir(folder) as engine:
        engine.run(GOOD, run_id="orig")
        engine.replay_from("orig", "split", input={"answer": "LOUD"}, run_id="again")
    (listed,) = [r for r in as_json("inspect", folder, "runs") if r["run_id"] == "again"]
    assert listed["origin"] == "orig"
    row = next(line for line in cli("inspect", folder, "runs").stdout.splitlines() if line.startswith("│ again"))
    assert row.rstrip("│ ").endswith("orig")
    done = cli("inspect", folder, "show", "again")
    assert "  origin:   replayed from run orig at node 'split', with an edited input" in done.stdout
    assert as_json("inspect", folder, "show", "again")["origin"] == {"run_id": "orig", "from_node": "split",
                                                                     "input_changed": True}


def test_stage_shows_the_context_agent_calls_and_tool_calls_the_handler_saw(stored):
    record = as_json("inspect", stored, "stage", "ok", "ask")
    assert record["context"] == [{"store": "task", "tags": ["begin"], "payload": GOOD}]
    assert [(c["tool_id"], c["arguments"], c["output"]) for c in record["tool_calls"]] == [
        ("shout", {"text": "hi"}, "HI")]
    first, second = record["agent_calls"]
    assert json.loads(first["request"]["messages"][0]["content"])["context"] == record["context"]
    assert first["reply"]["tool_calls"] == [{"id": "call-1", "name": "shout", "arguments": {"text": "hi"}}]
    assert second["request"]["messages"][-1]["content"] == '{"status":"success","output":"HI","error":null}'
    document = json.loads(stored_documents(stored)["ok"][1])
    assert record == next(r for r in document["trace"]["records"] if r["node_id"] == "ask")

    done = cli("inspect", stored, "stage", "ok", "ask")
    assert done.exit_code == 0, done.output
    text = done.stdout
    assert "stage 1 of task ok at node 'ask': success" in text
    assert "── context (1 entry)\n[0] task tags=begin\n    {\n      \"topic\": \"hi\"," in text
    assert "[0] toolbot/m-1  usage: input_tokens 12, output_tokens 4" in text
    assert "    system: Shout the topic.\n    user: {\"node\":\"ask\",\"input\":{\"topic\":\"hi\"" in text
    assert '      asks shout({"text": "hi"}) [call-1]' in text
    assert '    tool shout: {"status":"success","output":"HI","error":null}' in text
    assert '[0] shout (call-1): success\n    arguments: {\n      "text": "hi"\n    }\n    result: "HI"' in text
    assert text.rstrip().endswith("── error\nnone")


def test_stage_of_a_fan_out_child_is_named_with_task_and_shows_its_error(stored):
    done = cli("inspect", stored, "stage", "bad", "each", "--task", "bad/split#1")
    assert done.exit_code == 0, done.output
    assert '"word": "boom"' in done.stdout
    assert "── error\n[handler] ValueError: cannot take boom" in done.stdout
    no_traceback(done.stdout)  # the handler's recorded traceback is in --json
    assert "(the handler's traceback was recorded: --json shows it)" in done.stdout
    record = as_json("inspect", stored, "stage", "bad", "each", "--task", "bad/split#1")
    assert 'raise ValueError("cannot take boom")' in record["error"]["traceback"]
    assert as_json("inspect", stored, "stage", "bad/split#2", "each")["input"]["word"] == "c"


@pytest.mark.parametrize(("args", "message"), [
    (["stage", "bad", "each"], "node 'each' ran in 3 tasks of run 'bad' (bad/split#0, bad/split#1, bad/split#2)"
                               "; name the task"),
    (["stage", "bad", "nope"], "run 'bad' has no stage at node 'nope'; it visited: ask, begin, each, gather, split"),
    (["stage", "bad", "each", "--task", "bad/split#9"],
     "run 'bad' has no task 'bad/split#9'; its tasks: bad, bad/split#0, bad/split#1, bad/split#2"),
    (["show", "bad/nope#0"], "run 'bad' has no task 'bad/nope#0'; its tasks: bad, bad/split#0"),
    (["show", "gone"], "no stored run 'gone'; the newest: bad, ok"),
    (["artifacts", "gone"], "no stored run 'gone'; the newest: bad, ok"),
    (["events", "gone/split#0"], "no stored run 'gone'; the newest: bad, ok"),
])
def test_a_wrong_id_is_exit_2_naming_what_exists(stored, args, message):
    done = cli("inspect", stored, *args)
    assert done.exit_code == EXIT_USAGE
    assert message in done.output
    no_traceback(done.output)


def test_a_project_that_keeps_no_runs_is_exit_2_saying_how_to_keep_them(tmp_path, kit_path, monkeypatch):
    monkeypatch.setenv("AGENT_ENGINE_LOAD_PLUGINS", "inspect_kit")  # whatever else is installed: no sqlite
    (tmp_path / "workflow.yaml").write_text('version: "1.0"\nnodes: [{id: s, role: start}]\nedges: []\n')
    done = cli("inspect", tmp_path, "runs")
    assert done.exit_code == EXIT_USAGE
    assert "keeps no runs another process can read" in done.output and "runs: {backend: ...}" in done.output
    no_traceback(done.output)


@pytest.mark.parametrize("command", [["inspect", "{dir}", "runs"], ["diff", "{dir}", "a", "b"]])
def test_a_folder_that_does_not_exist_is_exit_2_naming_it(tmp_path, command):
    missing = tmp_path / "nowhere"
    done = cli(*[part.format(dir=missing) for part in command])
    assert done.exit_code == EXIT_USAGE
    assert f"Directory '{missing}' does not exist" in done.output


def test_artifacts_lists_what_the_run_stored_and_filters_by_kind(stored):
    every = as_json("inspect", stored, "artifacts", "ok")
    assert {a["kind"] for a in every} == {"node_output", "tool_result"}
    (tool,) = as_json("inspect", stored, "artifacts", "ok", "--kind", "tool_result")
    assert (tool["node_id"], tool["payload"]["arguments"], tool["payload"]["output"]) == ("ask", {"text": "hi"}, "HI")
    child = as_json("inspect", stored, "artifacts", "ok/split#1")
    assert [(a["task_id"], a["node_id"], a["payload"]) for a in child] == [
        ("ok/split#1", "each", {"word": "c", "length": 1})]
    done = cli("inspect", stored, "artifacts", "ok", "--kind", "tool_result")
    assert "ok@1:tool0" in done.stdout and '"arguments": {"text": "hi"}' in done.stdout
    assert done.stdout.rstrip().endswith("1 artifact")
    none = cli("inspect", stored, "artifacts", "ok", "--kind", "evaluation")
    assert none.exit_code == 0 and "0 artifacts (kinds stored: node_output, tool_result)" in none.stdout


def test_events_lists_the_runs_events_in_order(stored):
    kept = as_json("inspect", stored, "events", "ok")
    assert kept["kept"] is True
    types = [e["type"] for e in kept["events"]]
    assert types[0] == "task_started" and types[-1] == "task_finished"
    for task in {e["task_id"] for e in kept["events"]}:  # each task's events in the order it emitted them
        seqs = [e["seq"] for e in kept["events"] if e["task_id"] == task]
        assert seqs == sorted(set(seqs))
    calls = [e for e in kept["events"] if e["type"] == "tool_invoked"]
    assert [(e["node_id"], e["arguments"]) for e in calls] == [("ask", {"text": "hi"})]
    done = cli("inspect", stored, "events", "ok")
    assert done.exit_code == 0
    assert f"{len(kept['events'])} events" in done.stdout
    assert "tool_invoked" in done.stdout and "node_finished" in done.stdout
    child = as_json("inspect", stored, "events", "ok/split#0")["events"]
    assert {e["task_id"] for e in child} == {"ok/split#0"}


def test_events_says_clearly_when_the_store_did_not_keep_them(project):
    folder = project(events=False)
    run(folder, ("quiet", GOOD))
    done = cli("inspect", folder, "events", "quiet")
    assert done.exit_code == 0
    assert "run quiet: its events were not kept (memory.yaml has runs: {events: false})" in done.stdout
    assert as_json("inspect", folder, "events", "quiet") == {"run_id": "quiet", "kept": False, "events": None}
    assert as_json("inspect", folder, "stage", "quiet", "ask")["tool_calls"][0]["output"] == "HI"


def test_no_inspect_command_changes_a_stored_run(stored):
    before_documents, before_files = stored_documents(stored), list(snapshot(stored))
    commands = [["runs"], ["runs", "--status", "failure"], ["show", "bad"], ["show", "bad/split#1"],
                ["stage", "bad", "ask"], ["stage", "bad", "each", "--task", "bad/split#1"], ["artifacts", "bad"],
                ["events", "bad"], ["stage", "bad", "nope"]]
    for command in commands:
        for json_flag in ([], ["--json"]):
            cli("inspect", stored, *command, *json_flag)
    cli("diff", stored, "ok", "bad")
    assert stored_documents(stored) == before_documents
    assert list(snapshot(stored)) == before_files


def test_a_run_made_by_agent_engine_run_is_listed_and_shown_by_another_process(project, kit_path):
    folder = project()
    env = cli_env(kit_path)

    def agent_engine(*args):
        return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, env=env, timeout=120,
                              check=False)

    made = agent_engine("run", folder, "--input", json.dumps(BOOM), "--run-id", "far", "--json")
    assert made.returncode == 1, made.stderr  # the run fails at gather: a stored failure is worth inspecting
    digest = json.loads(made.stdout)["trace_digest"]

    listed = agent_engine("inspect", folder, "runs")
    assert listed.returncode == 0, listed.stderr
    assert any(line.startswith("│ far ") and "failure" in line for line in listed.stdout.splitlines())

    shown = agent_engine("inspect", folder, "show", "far")
    assert shown.returncode == 0, shown.stderr
    assert f"digest:   {digest}" in shown.stdout
    assert "  task far/split#1 (subtask #1 of 'split'): failure" in shown.stdout

    staged = agent_engine("inspect", folder, "stage", "far", "ask", "--json")
    assert staged.returncode == 0, staged.stderr
    record = json.loads(staged.stdout)
    assert record["context"] == [{"store": "task", "tags": ["begin"], "payload": BOOM}]
    assert [(c["tool_id"], c["arguments"], c["output"]) for c in record["tool_calls"]] == [
        ("shout", {"text": "hi"}, "HI")]
    no_traceback(listed.stderr + shown.stderr + staged.stderr)
