"""Exposure: the node_exporter textfile is replaced atomically, and /metrics on 127.0.0.1 serves render()."""

from __future__ import annotations

import os
import socket
import urllib.request

import pytest
from agent_engine_core import Engine, ManifestError
from prometheus_client.parser import text_string_to_metric_families

from agent_engine_metrics import MetricsSink

WORKFLOW = {
    "version": "1.0",
    "nodes": [
        {"id": "s", "role": "start"}, {"id": "br", "role": "branch"}, {"id": "a", "role": "linear"},
        {"id": "b", "role": "linear"}, {"id": "m", "role": "merge"}, {"id": "e", "role": "exit"},
    ],
    "edges": [
        {"from": "s", "to": "br"}, {"from": "br", "to": "a"}, {"from": "br", "to": "b"},
        {"from": "a", "to": "m"}, {"from": "b", "to": "m"}, {"from": "m", "to": "e"},
    ],
}


# No proxy from the environment may stand between the test and 127.0.0.1.
fetch = urllib.request.build_opener(urllib.request.ProxyHandler({})).open


def engine_with(make_engine, tmp_path, **config) -> tuple[Engine, MetricsSink]:
    engine = make_engine(
        {"workflow": WORKFLOW, "plugins": {"plugins": [{"id": "metrics", "config": config}]}}, base_dir=tmp_path
    )
    return engine, next(p for p in engine.plugins.manager.get_plugins() if isinstance(p, MetricsSink))


def root_tasks(text: str) -> float:
    """The root-task count in a Prometheus text exposition (which must parse)."""
    tasks = next(f for f in text_string_to_metric_families(text) if f.name == "agent_engine_tasks")
    return sum(s.value for s in tasks.samples if s.name.endswith("_total") and s.labels["kind"] == "root")


def test_metrics_textfile_is_written_when_a_root_task_finishes_and_replaced_atomically(make_engine, tmp_path):
    (tmp_path / "textfiles").mkdir()
    engine, sink = engine_with(make_engine, tmp_path, textfile="textfiles/agent_engine.prom")
    target = tmp_path / "textfiles" / "agent_engine.prom"
    assert not target.exists()  # nothing is written before a root task has finished

    engine.run(1, run_id="first")
    first = target.read_text()
    assert first == sink.render()  # the root task's finish is the run's last event
    assert root_tasks(first) == 1

    with target.open() as reader:  # a scraper that opened the file before the next write
        inode = os.fstat(reader.fileno()).st_ino
        engine.run(2, run_id="second")
        assert os.stat(target).st_ino != inode  # a new file was renamed over the old one, never rewritten
        assert reader.read() == first  # so an open reader still sees the whole previous version
    assert root_tasks(target.read_text()) == 2
    assert sorted(p.name for p in target.parent.iterdir()) == ["agent_engine.prom"]  # no temp file left over


def test_metrics_http_endpoint_serves_render_on_loopback_until_closed(make_engine, tmp_path):
    engine, sink = engine_with(make_engine, tmp_path, port=0)
    try:
        url = sink.url
        assert url is not None and url.startswith("http://127.0.0.1:")
        engine.run(1, run_id="served")
        with fetch(url, timeout=10) as response:
            assert response.status == 200
            body = response.read().decode()
        assert body == sink.render()
        assert root_tasks(body) == 1
    finally:
        sink.close()
    assert sink.url is None
    with pytest.raises(OSError):
        fetch(url, timeout=10)


def test_metrics_http_port_in_use_is_a_manifest_error(make_engine, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ManifestError, match="telemetry sink 'metrics' could not start"):
            engine_with(make_engine, tmp_path, port=taken.getsockname()[1])


def test_metrics_two_http_endpoints_in_one_process_serve_their_own_engine(make_engine, tmp_path):
    one, first = engine_with(make_engine, tmp_path, port=0)
    two, second = engine_with(make_engine, tmp_path, port=0)
    try:
        one.run(1, run_id="one")
        for run_id in ("two-a", "two-b", "two-c"):
            two.run(1, run_id=run_id)
        bodies = []
        for sink in (first, second):
            assert sink.url is not None
            with fetch(sink.url, timeout=10) as response:
                bodies.append(response.read().decode())
        assert [root_tasks(body) for body in bodies] == [1, 3]
    finally:
        first.close()
        second.close()
