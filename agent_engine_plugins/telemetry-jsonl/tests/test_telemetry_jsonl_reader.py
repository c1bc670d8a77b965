"""Reading traces back: rotated files in order, torn last lines, damage, and the run's digest rebuilt."""

from __future__ import annotations

import os
import shutil
import threading
from typing import Any

import pytest
from _telemetry_jsonl_support import (
    BRANCH_MERGE,
    DECIDE_AND_FAIL,
    HANDLERS,
    TRACES,
    TWO_FAN_OUTS,
    assert_per_task_seq,
    recorded,
    split_manifests,
    telemetry_jsonl_discovery,  # noqa: F401 - a fixture, used through pytestmark
    trace_files,
    with_sink,
)
from agent_engine_core import Trace

from agent_engine_telemetry_jsonl import TornLineWarning, read_trace

pytestmark = pytest.mark.usefixtures("telemetry_jsonl_discovery")

RUNS = [
    pytest.param(BRANCH_MERGE, {"items": [1]}, "success", id="branch-merge-with-agent"),
    pytest.param(split_manifests(), {"count": 5, "pad": 3}, "success", id="split-merge"),
    pytest.param(TWO_FAN_OUTS, {"items": [1]}, "success", id="successive-fan-outs"),
    pytest.param(DECIDE_AND_FAIL, {"go": "shaky"}, "partial", id="decision-then-failure"),
    pytest.param(DECIDE_AND_FAIL, {"go": "nowhere"}, "failure", id="unknown-label"),
]


@pytest.mark.parametrize(("manifests", "payload", "status"), RUNS)
def test_the_recorded_events_rebuild_the_run_digest(make_engine, tmp_path, manifests, payload, status):
    engine = make_engine(with_sink(manifests), handlers=HANDLERS, base_dir=tmp_path)
    result = engine.run(payload, run_id="digest")
    assert result.status == status
    rebuilt = Trace.from_events(read_trace(tmp_path / TRACES, "digest"))
    assert rebuilt.canonical().decode().splitlines() == result.trace.canonical().decode().splitlines()
    assert rebuilt.digest == result.trace.digest
    assert [r.duration_s for r in rebuilt.records] == [r.duration_s for r in result.trace.records]


def test_branch_merge_with_background_dispatch(make_engine, event_recorder, tmp_path, monkeypatch):
    real_fsync, writers = os.fsync, []

    def fsync(fd: int) -> None:
        writers.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    engine = make_engine(with_sink(BRANCH_MERGE, dispatch="background"), handlers=HANDLERS, base_dir=tmp_path,
                         plugins=[event_recorder])
    result = engine.run({"items": [1]}, run_id="bg")
    engine.close()  # lets the sink's queue drain
    (writer,) = writers  # one fsync, from the sink's own delivery thread: written off the execution path
    assert writer.startswith("agent-engine-observer-") and writer.endswith("trace_file")
    events = read_trace(tmp_path / TRACES, "bg")
    assert events == recorded(event_recorder)
    assert_per_task_seq(events)
    assert {e["task_id"] for e in events} == {"bg", "bg/fan#0", "bg/fan#1"}
    assert Trace.from_events(events).digest == result.trace.digest
    assert "observers" not in result.metadata


@pytest.fixture
def rotated_run(make_engine, tmp_path) -> tuple[Any, list[dict[str, Any]]]:
    """A run recorded over several rotated files, and its events as read from the folder."""
    config = {"path": TRACES, "max_bytes": 3000, "backups": 100}
    engine = make_engine(with_sink(split_manifests(), config), handlers=HANDLERS, base_dir=tmp_path)
    result = engine.run({"count": 8, "pad": 200}, run_id="rot")
    assert len(trace_files(tmp_path / TRACES)) > 2
    return result, read_trace(tmp_path / TRACES, "rot")


def test_any_file_of_a_run_reads_the_whole_run_oldest_first(rotated_run, tmp_path):
    result, events = rotated_run
    traces = tmp_path / TRACES
    assert read_trace(traces / "rot.jsonl") == events
    assert read_trace(traces / "rot.2.jsonl") == events
    assert events[0]["type"] == "task_started" and events[-1]["type"] == "task_finished"
    assert_per_task_seq(events)
    assert Trace.from_events(events).digest == result.trace.digest


def test_a_torn_last_line_is_skipped_with_a_warning(rotated_run, tmp_path):
    _, events = rotated_run
    active = tmp_path / TRACES / "rot.jsonl"
    with active.open("ab") as file:
        file.write(b'{"type":"node_started","run_id":"rot","task_id":"rot","se')
    with pytest.warns(TornLineWarning, match=r"rot\.jsonl:\d+: skipped a torn last line"):
        assert read_trace(tmp_path / TRACES, "rot") == events


def test_damage_before_the_last_line_is_an_error_not_a_silent_skip(rotated_run, tmp_path):
    older = tmp_path / TRACES / "rot.1.jsonl"
    lines = older.read_bytes().splitlines(keepends=True)
    older.write_bytes(b"".join([lines[0], b'{"type": "node_st\n', *lines[1:]]))
    with pytest.raises(ValueError, match=r"rot\.1\.jsonl:2: not a JSON event"):
        read_trace(tmp_path / TRACES, "rot")


def test_lost_events_are_reported_not_rebuilt_into_a_wrong_digest(rotated_run):
    _, events = rotated_run
    with pytest.raises(ValueError, match=r"task rot jumps to seq 7 after 5 \(events were lost"):
        Trace.from_events(events[:5] + events[6:])
    with pytest.raises(ValueError, match="no start or no end"):
        Trace.from_events(events[:-1])
    with pytest.raises(ValueError, match="exactly one run"):
        Trace.from_events([*events, {**events[0], "run_id": "other"}])


def test_a_folder_without_run_id_gives_every_run_and_a_rerun_rebuilds_its_last_run(make_engine, tmp_path):
    engine = make_engine(with_sink(BRANCH_MERGE), handlers=HANDLERS, base_dir=tmp_path)
    engine.run({"items": [1]}, run_id="b")
    engine.run({"items": [1]}, run_id="a")
    again = engine.run({"items": [2]}, run_id="a")  # same run id: appended to a.jsonl
    everything = read_trace(tmp_path / TRACES)
    assert [e["run_id"] for e in everything] == sorted(e["run_id"] for e in everything)  # a's file, then b's
    a_events = read_trace(tmp_path / TRACES, "a")
    assert len(a_events) == 2 * len(read_trace(tmp_path / TRACES, "b"))
    assert Trace.from_events(a_events).digest == again.trace.digest
    with pytest.raises(FileNotFoundError, match="no trace of run 'c'"):
        read_trace(tmp_path / TRACES, "c")
    shutil.rmtree(tmp_path / TRACES)
    with pytest.raises(FileNotFoundError):
        read_trace(tmp_path / TRACES)


def test_a_trace_file_is_a_recording_that_replays_to_the_same_digest(make_engine, tmp_path):
    engine = make_engine(with_sink(BRANCH_MERGE), handlers=HANDLERS, base_dir=tmp_path)
    result = engine.run({"n": 2}, run_id="recorded")
    engine.close()
    (trace_file,) = trace_files(tmp_path / TRACES)
    replaying = make_engine(BRANCH_MERGE, handlers=HANDLERS, base_dir=tmp_path)
    assert replaying.replay(trace_file).trace.digest == result.trace.digest
    assert replaying.replay(tmp_path / TRACES, run_id="recorded").trace.digest == result.trace.digest


def test_stage_contexts_are_rebuilt_from_context_assembled_events(make_engine, tmp_path):
    manifests = {**BRANCH_MERGE, "memory": {"context_profiles": [{"id": "ctx", "sources": [{"store": "task"}]}]}}
    workflow = dict(manifests["workflow"])
    workflow["nodes"] = [dict(n, context="ctx") if n["id"] == "a" else n for n in workflow["nodes"]]
    manifests["workflow"] = workflow
    engine = make_engine(with_sink(manifests), handlers=HANDLERS, base_dir=tmp_path)
    result = engine.run({"n": 2}, run_id="ctx-run")
    engine.close()
    (trace_file,) = trace_files(tmp_path / TRACES)
    rebuilt = Trace.from_events(read_trace(trace_file))
    assert any(r.context_json != "[]" for r in rebuilt.records)
    assert rebuilt.digest == result.trace.digest
