"""The built-in ``log`` sink: events as structlog lines bound to run, task and node, never payloads."""

from __future__ import annotations

import pytest
import structlog
from _workflows import engine, fail, node

from agent_engine_core import ManifestError


def logged(config):
    eng = engine([node("s", "start"), node("boom", "linear", handler=fail("no title"), continue_on_failure=True),
                  node("x", "exit")], [("s", "boom"), ("boom", "x")],
                 plugins={"plugins": [{"id": "log", "config": config}]})
    with structlog.testing.capture_logs() as lines:
        result = eng.run({"secret_payload": "do not log me"}, run_id="r-log")
    return result, lines


def test_the_log_sink_writes_one_line_per_chosen_event_with_ids_and_no_payload():
    result, lines = logged({"level": "warning", "events": ["node_failed", "task_finished"]})
    assert [(line["event"], line["log_level"]) for line in lines] == [
        ("node_failed", "warning"), ("task_finished", "warning")]
    failed = lines[0]
    assert (failed["run_id"], failed["task_id"], failed["node_id"]) == ("r-log", "r-log", "boom")
    assert (failed["error_kind"], failed["error"]) == ("handler", "no title")
    assert all("do not log me" not in repr(line) for line in lines)
    assert lines[1]["status"] == str(result.status)


def test_every_event_is_logged_by_default():
    _, lines = logged({})
    assert [line["event"] for line in lines][:2] == ["task_started", "node_started"]
    assert {line["log_level"] for line in lines} == {"info"}


@pytest.mark.parametrize("config", [{"level": "loud"}, {"events": ["nope"]}, {"colour": True}])
def test_a_bad_log_sink_config_is_a_load_error(config):
    with pytest.raises(ManifestError) as caught:
        logged(config)
    assert "telemetry sink 'log' could not start" in caught.value.issues[0].message
