"""GenAI client metrics: token usage by token type and LLM call duration, with the conventions' attributes."""

from __future__ import annotations

from typing import Any

from _otel_harness import (
    DECISION_HANDLERS,
    CountingProvider,
    CountingProviderPlugin,
    attributes,
    decision_project,
    in_memory_otel,
    sink,
)

CHAT = {
    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "counting",
    "gen_ai.request.model": "router-model", "gen_ai.response.model": "router-model-2026-01",
}


def test_otel_token_usage_and_duration_are_recorded_per_llm_call(make_engine: Any) -> None:
    with in_memory_otel() as recorded:
        engine = make_engine({**decision_project("counting/router-model"), **sink()}, handlers=DECISION_HANDLERS,
                             plugins=[CountingProviderPlugin()])
        for _ in range(3):
            assert engine.run({"text": "x"}).ok

        tokens = {point.attributes["gen_ai.token.type"]: point for point in recorded.histogram(  # type: ignore[index]
            "gen_ai.client.token.usage")}
        assert set(tokens) == {"input", "output"}
        assert dict(tokens["input"].attributes or {}) == {**CHAT, "gen_ai.token.type": "input"}
        assert (tokens["input"].count, tokens["input"].sum) == (3, 3 * CountingProvider.INPUT_TOKENS)
        assert (tokens["output"].count, tokens["output"].sum) == (3, 3 * CountingProvider.OUTPUT_TOKENS)
        # the conventions' advisory buckets, not the SDK's defaults
        assert tokens["input"].explicit_bounds[:4] == (1, 4, 16, 64)

        [duration] = recorded.histogram("gen_ai.client.operation.duration")
        assert dict(duration.attributes or {}) == CHAT
        assert duration.count == 3
        assert duration.sum >= 0
        assert duration.explicit_bounds[0] == 0.01

    chat = attributes(recorded.named("chat router-model")[0])
    assert chat.items() >= {**CHAT, "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 7}.items()
    agent = attributes(recorded.named("invoke_agent router")[0])
    assert agent["gen_ai.usage.input_tokens"] == 120


def test_otel_runs_without_llm_calls_record_no_client_metrics(make_engine: Any) -> None:
    project = decision_project()
    project["workflow"]["nodes"][1] = {"id": "decide", "role": "decision", "handler": "route"}
    with in_memory_otel() as recorded:
        engine = make_engine({**project, **sink()},
                             handlers={**DECISION_HANDLERS, "route": lambda payload, ctx: "create"})
        assert engine.run({"text": "x"}).ok
        data = recorded.reader.get_metrics_data()
    names = {m.name for r in (data.resource_metrics if data else ()) for s in r.scope_metrics for m in s.metrics}
    assert not names & {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"}
    assert recorded.one("decide").attributes is not None
    assert "gen_ai.operation.name" not in attributes(recorded.one("decide"))
