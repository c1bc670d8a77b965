"""Size-based rotation and concurrent writers: no line lost, split, glued or out of its task's order."""

from __future__ import annotations

import threading

import pytest
from _telemetry_jsonl_support import (
    HANDLERS,
    TRACES,
    assert_per_task_seq,
    recorded,
    split_manifests,
    telemetry_jsonl_discovery,  # noqa: F401 - a fixture, used through pytestmark
    trace_files,
    with_sink,
)
from agent_engine_core import Trace
from agent_engine_core.events import NodeStarted, TaskFinished

from agent_engine_telemetry_jsonl import TraceFileSink, read_trace

pytestmark = pytest.mark.usefixtures("telemetry_jsonl_discovery")

LIMIT = 4096


def test_rotation_at_the_size_limit_keeps_every_line_whole(make_engine, event_recorder, tmp_path):
    config = {"path": TRACES, "max_bytes": LIMIT, "backups": 1000}
    engine = make_engine(with_sink(split_manifests(), config), handlers=HANDLERS, base_dir=tmp_path,
                         plugins=[event_recorder])
    result = engine.run({"count": 12, "pad": 300}, run_id="big")
    files = trace_files(tmp_path / TRACES)
    names = [f.name for f in files]
    assert len(files) > 3  # it did rotate, several times
    assert set(names) == {"big.jsonl", *(f"big.{n}.jsonl" for n in range(1, len(files)))}  # numbered 1..n-1
    for file in files:
        data = file.read_bytes()
        lines = data.splitlines(keepends=True)
        assert data.endswith(b"\n")
        assert len(data) <= LIMIT or len(lines) == 1  # only a single oversized line may exceed the limit
    events = read_trace(tmp_path / TRACES, "big")
    assert events == recorded(event_recorder)  # nothing lost, duplicated, split or reordered across files
    assert Trace.from_events(events).digest == result.trace.digest


def test_backups_keep_only_the_newest_files(make_engine, event_recorder, tmp_path):
    config = {"path": TRACES, "max_bytes": LIMIT, "backups": 2}
    engine = make_engine(with_sink(split_manifests(), config), handlers=HANDLERS, base_dir=tmp_path,
                         plugins=[event_recorder])
    engine.run({"count": 12, "pad": 300}, run_id="short")
    assert [f.name for f in trace_files(tmp_path / TRACES)] == ["short.1.jsonl", "short.2.jsonl", "short.jsonl"]
    events, everything = read_trace(tmp_path / TRACES, "short"), recorded(event_recorder)
    assert 0 < len(events) < len(everything)
    assert events == everything[-len(events):]  # the newest lines, contiguous: only whole old files dropped


def test_max_bytes_zero_never_rotates_and_an_oversized_line_is_not_split(make_engine, event_recorder, tmp_path):
    for max_bytes, run_id in ((0, "unlimited"), (10, "tiny")):
        config = {"path": TRACES, "max_bytes": max_bytes, "backups": 10_000}
        engine = make_engine(with_sink(split_manifests(), config), handlers=HANDLERS, base_dir=tmp_path,
                             plugins=[event_recorder])
        engine.run({"count": 3, "pad": 50}, run_id=run_id)
    files = trace_files(tmp_path / TRACES)
    assert [f.name for f in files if f.name.startswith("unlimited")] == ["unlimited.jsonl"]
    tiny = [f for f in files if f.name.startswith("tiny")]
    assert all(len(f.read_bytes().splitlines()) == 1 for f in tiny)  # every line alone, none cut at 10 bytes
    assert read_trace(tmp_path / TRACES, "tiny") == recorded(event_recorder, "tiny")


def test_many_threads_writing_one_run_lose_and_split_nothing(tmp_path):
    sink = TraceFileSink.from_config({"path": "t", "max_bytes": 2000, "backups": 100_000}, tmp_path)
    threads, per_task = 8, 150

    def task_events(index: int) -> None:
        for seq in range(1, per_task + 1):
            sink.on_event(NodeStarted(type="node_started", run_id="r", task_id=f"r/fan#{index}", seq=seq,
                                      timestamp=0.0, node_id="n", stage=seq, input_json=f'"{"y" * (seq % 97)}"'))

    workers = [threading.Thread(target=task_events, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sink.on_event(TaskFinished(type="task_finished", run_id="r", task_id="r", seq=1, timestamp=0.0,
                               status="success", output_json="null"))
    events = read_trace(tmp_path / "t", "r")
    assert len(events) == threads * per_task + 1
    assert_per_task_seq(events)
    assert all(e["input"] == "y" * (e["seq"] % 97) for e in events[:-1])  # every payload intact
    assert len(trace_files(tmp_path / "t")) > 10


def test_runs_started_from_several_threads_each_get_a_whole_trace(make_engine, tmp_path):
    config = {"path": TRACES, "max_bytes": LIMIT, "backups": 1000}
    engine = make_engine(with_sink(split_manifests(scheduler={"scheduler": {"fanout_concurrency": 4}}), config),
                         handlers=HANDLERS, base_dir=tmp_path)
    digests: dict[str, str] = {}

    def one(run_id: str) -> None:
        digests[run_id] = engine.run({"count": 6, "pad": 100}, run_id=run_id).trace.digest

    workers = [threading.Thread(target=one, args=(f"par{i}",)) for i in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(digests) == 6
    for run_id, digest in digests.items():
        assert Trace.from_events(read_trace(tmp_path / TRACES, run_id)).digest == digest
