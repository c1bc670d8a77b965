"""Message content (task and node payloads, prompts, replies) is recorded only with ``capture_content: true``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _otel_harness import (
    DECISION_HANDLERS,
    SECRET_PROMPT,
    SECRET_TEXT,
    Recorded,
    attributes,
    decision_project,
    in_memory_otel,
    sink,
)

CONTENT_KEYS = {
    "gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages",
    "agent_engine.task.input", "agent_engine.task.output", "agent_engine.node.input", "agent_engine.node.output",
}


def _run(make_engine: Any, config: dict[str, Any]) -> Recorded:
    with in_memory_otel() as recorded:
        engine = make_engine({**decision_project(), **sink(config)}, handlers=DECISION_HANDLERS)
        assert engine.run({"text": SECRET_TEXT}).ok
    return recorded


def _all_values(recorded: Recorded) -> str:
    return "\n".join(repr(value) for span in recorded.spans for value in attributes(span).values())


@pytest.mark.parametrize("config", [{}, {"capture_content": False}])
def test_otel_content_is_left_out_by_default(make_engine: Any, config: dict[str, Any]) -> None:
    recorded = _run(make_engine, config)
    assert len(recorded.spans) == 6
    keys = {key for span in recorded.spans for key in attributes(span)}
    assert not keys & CONTENT_KEYS
    values = _all_values(recorded)
    for secret in ("PLUM-7731", "MANGO-4402", "selected_edge"):
        assert secret not in values


def test_otel_content_is_recorded_when_opted_in(make_engine: Any) -> None:
    recorded = _run(make_engine, {"capture_content": True})

    chat = attributes(recorded.one("chat router-model"))
    assert json.loads(chat["gen_ai.system_instructions"]) == [{"type": "text", "content": SECRET_PROMPT}]
    [message] = json.loads(chat["gen_ai.input.messages"])
    assert message["role"] == "user"
    assert json.loads(message["parts"][0]["content"]) == {"node": "decide", "input": {"text": SECRET_TEXT.strip()}}
    assert json.loads(chat["gen_ai.output.messages"]) == [{
        "role": "assistant", "finish_reason": "stop",
        "parts": [{"type": "text", "content": json.dumps({"selected_edge": "edit"}, separators=(",", ":"))}],
    }]

    normalize = attributes(recorded.one("normalize"))
    assert json.loads(normalize["agent_engine.node.input"]) == {"text": SECRET_TEXT}
    assert json.loads(normalize["agent_engine.node.output"]) == {"text": SECRET_TEXT.strip()}
    root = attributes(recorded.one("invoke_workflow workflow"))
    assert json.loads(root["agent_engine.task.input"]) == {"text": SECRET_TEXT}
    assert json.loads(root["agent_engine.task.output"]) == {"text": SECRET_TEXT.strip(), "by": "edit"}
