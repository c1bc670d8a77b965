"""Tool calls: the core does not emit ``tool_invoked`` yet, so the sink is fed the events a run will produce.

The sink is obtained exactly as the core obtains it: through the entry point module's registration hook.
"""

from __future__ import annotations

from typing import Any

import pytest
from _otel_harness import Recorded, attributes, in_memory_otel
from agent_engine_core.events import Event, NodeFinished, NodeStarted, TaskFinished, TaskStarted, ToolInvoked
from agent_engine_core.records import Lineage
from opentelemetry.trace import SpanKind, StatusCode

from agent_engine_otel import plugin


def _sink(config: dict[str, Any]) -> Any:
    factories: dict[str, Any] = {}
    plugin.register_telemetry_sinks(register=factories.__setitem__)
    return factories["otel"](config, None)


def _tool_run(status: str) -> list[Event]:
    common: dict[str, Any] = {"run_id": "run-t", "task_id": "run-t"}
    return [
        TaskStarted(type="task_started", seq=1, timestamp=100.0, lineage=Lineage(), start_node="write",
                    input_json='{"path":"a.md"}', **common),
        NodeStarted(type="node_started", seq=2, timestamp=100.5, node_id="write", stage=0,
                    input_json='{"path":"a.md"}', **common),
        ToolInvoked(type="tool_invoked", seq=3, timestamp=101.0, node_id="write", tool_id="write_file",
                    arguments_json='{"path":"a.md","text":"SECRET-BODY"}', status=status,
                    result_json='{"written":11}', **common),
        NodeFinished(type="node_finished", seq=4, timestamp=102.0, node_id="write", stage=0, status="success",
                     input_json='{"path":"a.md"}', output_json='{"ok":true}', error=None, route=(),
                     duration_s=1.5, **common),
        TaskFinished(type="task_finished", seq=5, timestamp=102.5, status="success", output_json='{"ok":true}',
                     **common),
    ]


def _feed(config: dict[str, Any], status: str = "success") -> Recorded:
    with in_memory_otel() as recorded:
        sink = _sink(config)
        for event in _tool_run(status):
            sink.on_event(event)
    return recorded


def test_otel_tool_call_becomes_an_execute_tool_span_under_its_stage() -> None:
    recorded = _feed({})
    tool = recorded.one("execute_tool write_file")
    assert tool.kind is SpanKind.INTERNAL
    assert recorded.parent_of(tool) is recorded.one("write")
    assert tool.end_time == 101_000_000_000
    assert attributes(tool) == {
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "write_file", "agent_engine.run_id": "run-t",
        "agent_engine.task_id": "run-t", "agent_engine.node_id": "write", "agent_engine.tool.status": "success",
    }
    assert tool.status.status_code is StatusCode.UNSET
    assert (recorded.one("write").start_time, recorded.one("write").end_time) == (100_500_000_000, 102_000_000_000)


@pytest.mark.parametrize("capture", [False, True])
def test_otel_tool_arguments_and_result_only_when_content_is_captured(capture: bool) -> None:
    tool = attributes(_feed({"capture_content": capture}).one("execute_tool write_file"))
    assert ("gen_ai.tool.call.arguments" in tool) is capture
    assert ("SECRET-BODY" in repr(tool)) is capture
    if capture:
        assert tool["gen_ai.tool.call.result"] == '{"written":11}'


def test_otel_failed_tool_call_has_error_status() -> None:
    tool = _feed({}, status="failure").one("execute_tool write_file")
    assert tool.status.status_code is StatusCode.ERROR
    assert attributes(tool)["error.type"] == "tool_failure"
