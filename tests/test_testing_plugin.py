"""The pytest plugin third parties test with: its fixtures work as documented in docs/PLUGINS.md."""

from __future__ import annotations

import types

import pytest

from agent_engine_core import hookimpl
from agent_engine_core.testing import assert_same_trace, assert_trace_nodes

WORKFLOW = {
    "version": "1.0",
    "nodes": [{"id": "s", "role": "start"}, {"id": "work", "role": "linear", "handler": "inc"},
              {"id": "e", "role": "exit"}],
    "edges": [{"from": "s", "to": "work"}, {"from": "work", "to": "e"}],
}
HANDLERS = {"inc": lambda payload, ctx: payload + 1}


def test_fake_entry_points_are_discovered_with_their_distribution(make_engine, fake_entry_points):
    seen = []
    module = types.ModuleType("acme_plugin")

    @hookimpl
    def on_task_finished(event):
        seen.append(event.status)

    module.on_task_finished = on_task_finished
    fake_entry_points(("acme", module, "agent-engine-acme"))
    result = make_engine({"workflow": WORKFLOW}, handlers=HANDLERS).run(1)
    assert result.output == 2
    assert seen == ["success"]
    assert result.metadata["plugins"]["agent-engine-acme"] == "0.0.0"


def test_fake_entry_points_accept_plain_objects_and_report_broken_ones(make_engine, fake_entry_points):
    class Watcher:
        count = 0

        @hookimpl
        def on_node_finished(self, event):
            Watcher.count += 1

    fake_entry_points(("watcher", Watcher()), ("ghost", "no_such_module_anywhere"))
    engine = make_engine({"workflow": WORKFLOW}, handlers=HANDLERS)
    engine.run(1)
    assert Watcher.count == 3
    assert [f.name for f in engine.plugins.failed] == ["ghost"]
    assert engine.plugins.failed[0].distribution == "fake-ghost"


def test_event_recorder_and_trace_helpers(make_engine, event_recorder):
    engine = make_engine({"workflow": WORKFLOW}, handlers=HANDLERS, plugins=[event_recorder])
    first = engine.run(1, run_id="same")
    assert [e.type for e in event_recorder.for_task("same")] == [
        "task_started", "node_started", "node_finished", "node_started", "node_finished",
        "node_started", "node_finished", "task_finished",
    ]
    second = engine.run(1, run_id="same")
    assert_same_trace(first, second)
    assert_trace_nodes(first, "same", ["s", "work", "e"])
    with pytest.raises(AssertionError, match="visited"):
        assert_trace_nodes(first, "same", ["s", "e"])
    with pytest.raises(AssertionError, match="differ"):
        assert_same_trace(first, engine.run(2, run_id="same"))


def test_engine_from_dir(engine_from_dir, tmp_path):
    (tmp_path / "workflow.yaml").write_text(
        "version: '1.0'\nnodes:\n  - {id: s, role: start}\n  - {id: e, role: exit}\nedges:\n  - {from: s, to: e}\n")
    assert engine_from_dir(tmp_path).run({"a": 1}).output == {"a": 1}


def test_fake_entry_points_accept_distribution_style_names(fake_entry_points, make_engine):
    from agent_engine_core import hookimpl

    class Sink:
        @hookimpl
        def register_telemetry_sinks(self, register):
            register("dashed_sink", lambda config, project_dir: self)

    fake_entry_points(("memory-postgres.extra", Sink(), "agent-engine-extra"))
    engine = make_engine({"workflow": {"version": "1.0", "nodes": [{"id": "s", "role": "start"},
                                                                  {"id": "x", "role": "exit"}],
                                       "edges": [{"from": "s", "to": "x"}]}})
    assert "dashed_sink" in engine.components.of("telemetry_sink")
