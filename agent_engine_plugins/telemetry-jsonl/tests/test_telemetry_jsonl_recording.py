"""What the trace_file sink writes: a file per run, every event, fsync at the end, confined file names."""

from __future__ import annotations

import importlib.metadata
import os
import re
from pathlib import Path

import pytest
from _telemetry_jsonl_support import (
    BRANCH_MERGE,
    HANDLERS,
    TRACES,
    assert_per_task_seq,
    recorded,
    telemetry_jsonl_discovery,  # noqa: F401 - a fixture, used through pytestmark
    trace_files,
    with_sink,
)
from agent_engine_core.events import TaskStarted
from agent_engine_core.records import Lineage, Trace
from agent_engine_core.testing import assert_same_trace
from hypothesis import given
from hypothesis import strategies as st

from agent_engine_telemetry_jsonl import TraceFileSink, read_trace, trace_stem

pytestmark = pytest.mark.usefixtures("telemetry_jsonl_discovery")


def test_the_installed_entry_point_provides_the_sink(make_engine, tmp_path):
    points = {ep.name: ep for ep in importlib.metadata.entry_points(group="agent_engine")}
    assert points["telemetry-jsonl"].value == "agent_engine_telemetry_jsonl.plugin"
    engine = make_engine(with_sink(BRANCH_MERGE), handlers=HANDLERS, base_dir=tmp_path)
    (sink,) = [p for p in engine.plugins.loaded if p.source == "plugins.yaml"]
    assert (sink.distribution, sink.hooks) == ("agent-engine-telemetry-jsonl", ("on_event",))
    assert "trace_file" in sink.name


def test_each_run_gets_its_own_file_holding_every_event_in_order(make_engine, event_recorder, tmp_path):
    engine = make_engine(with_sink(BRANCH_MERGE), handlers=HANDLERS, base_dir=tmp_path, plugins=[event_recorder])
    engine.run({"items": [1]}, run_id="first")
    engine.run({"items": [2]}, run_id="second")
    traces = tmp_path / TRACES
    assert [p.name for p in trace_files(traces)] == ["first.jsonl", "second.jsonl"]
    for run_id in ("first", "second"):
        events = read_trace(traces, run_id)
        assert events == recorded(event_recorder, run_id)  # same events, same fields, same order
        assert_per_task_seq(events)
        assert {e["type"] for e in events} >= {"task_started", "node_started", "agent_call", "node_finished",
                                               "routing_decision", "clone_created", "merge_fired", "task_finished"}
    lines = (traces / "first.jsonl").read_text(encoding="utf-8").splitlines()
    assert '"été"' in lines[-1]  # UTF-8 text as such, not \u escapes


def test_enabling_the_sink_leaves_the_trace_digest_unchanged(make_engine, tmp_path):
    without = make_engine(BRANCH_MERGE, handlers=HANDLERS).run({"items": [1]}, run_id="same")
    with_it = make_engine(with_sink(BRANCH_MERGE), handlers=HANDLERS, base_dir=tmp_path).run({"items": [1]},
                                                                                             run_id="same")
    assert trace_files(tmp_path / TRACES)  # it did record
    assert with_it.trace.digest == without.trace.digest
    assert_same_trace(without, with_it)
    assert "observers" not in with_it.metadata  # the sink never failed


def test_fsync_happens_once_per_run_when_the_root_task_finishes(make_engine, tmp_path, monkeypatch):
    real_fsync = os.fsync
    synced: list[tuple[bool, str]] = []

    def counting_fsync(fd: int) -> None:
        active = tmp_path / TRACES / f"{run_id}.jsonl"
        last = active.read_text(encoding="utf-8").splitlines()[-1]  # what the file held at that moment
        synced.append((os.fstat(fd).st_ino == active.stat().st_ino, last))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    engine = make_engine(with_sink(BRANCH_MERGE), handlers=HANDLERS, base_dir=tmp_path)
    run_id = "durable"
    engine.run({"items": [1]}, run_id=run_id)
    assert len(synced) == 1  # not per event, not per child task
    same_file, last = synced[0]
    assert same_file
    assert '"type":"task_finished"' in last and '"task_id":"durable"' in last  # the root's end, written first
    run_id = "again"
    engine.run({"items": [1]}, run_id=run_id)
    assert len(synced) == 2 and synced[1][0]


HOSTILE = ["../../x", "/etc/passwd", "..", ".", "", "a/b", "a_b", "x.1", "x", "..\\..\\win", "nul\x00byte",
           "~root", "é" * 300, "-rf"]


def test_hostile_run_ids_stay_inside_the_trace_folder(make_engine, tmp_path):
    project = tmp_path / "project"
    engine = make_engine(with_sink(BRANCH_MERGE), handlers=HANDLERS, base_dir=project)
    digests = {run_id: engine.run({"items": [1]}, run_id=run_id).trace.digest for run_id in HOSTILE}
    traces = project / TRACES
    files = trace_files(tmp_path)
    assert all(f.parent == traces for f in files), files  # nothing outside, nothing in sub-folders
    assert len(files) == len(HOSTILE)  # one file each: no two ids share a file
    for run_id in HOSTILE:
        events = read_trace(traces, run_id)
        assert {e["run_id"] for e in events} == {run_id}
        assert Trace.from_events(events).digest == digests[run_id]


@given(st.text(), st.text())
def test_any_run_id_maps_to_a_plain_distinct_file_name(first, second):
    directory = Path("/srv/traces")
    sink = TraceFileSink.from_config({"path": str(directory), "max_bytes": 0})
    path = sink.path_for(first)
    assert path.parent == directory and os.path.normpath(path) == str(path)
    assert "." not in trace_stem(first) and "/" not in trace_stem(first) and len(path.name.encode()) < 255
    if first != second:
        assert trace_stem(first) != trace_stem(second)


def test_a_torn_tail_left_by_a_crash_is_cut_before_the_next_run_appends(make_engine, tmp_path):
    traces = tmp_path / TRACES
    traces.mkdir()
    (traces / "reused.jsonl").write_bytes(b'{"type":"task_started","run_id":"reused","ta')
    engine = make_engine(with_sink(BRANCH_MERGE), handlers=HANDLERS, base_dir=tmp_path)
    result = engine.run({"items": [1]}, run_id="reused")
    events = read_trace(traces, "reused")  # no TornLineWarning (it would fail the test): the fragment is gone
    assert events[0]["type"] == "task_started" and events[0]["seq"] == 1
    assert Trace.from_events(events).digest == result.trace.digest


def test_closing_the_sink_syncs_what_an_unfinished_run_recorded(tmp_path, monkeypatch):
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    sink = TraceFileSink.from_config({"path": "t"}, tmp_path)
    sink.on_event(TaskStarted(type="task_started", run_id="cut", task_id="cut", seq=1, timestamp=0.0,
                              lineage=Lineage(), start_node="s", input_json="{}"))
    assert synced == []  # the run has not ended
    sink.close()  # Engine.close() does this
    assert len(synced) == 1
    assert [e["type"] for e in read_trace(tmp_path / "t", "cut")] == ["task_started"]


def test_text_utf8_cannot_carry_is_escaped_rather_than_lost(tmp_path):
    sink = TraceFileSink.from_config({"path": "t"}, tmp_path)
    sink.on_event(TaskStarted(type="task_started", run_id="odd", task_id="odd", seq=1, timestamp=0.0,
                              lineage=Lineage(), start_node="s", input_json='"\\ud800 é"'))
    sink.close()
    assert read_trace(tmp_path / "t", "odd")[0]["input"] == "\ud800 é"
    assert (tmp_path / "t" / "odd.jsonl").read_bytes().isascii()  # this one line fell back to \u escapes


def test_the_file_name_the_readme_shows_for_a_hostile_run_id_is_the_one_it_gets():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    shown = re.findall(r"`([^`]+)\.jsonl` for `([^`]+)`", readme)
    assert shown, "the README's example of a sanitised file name was not found"
    for stem, run_id in shown:
        assert trace_stem(run_id) == stem, f"README.md shows {stem}.jsonl for {run_id!r}: update it"
