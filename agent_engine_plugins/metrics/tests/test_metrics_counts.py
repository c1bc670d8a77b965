"""The numbers the metrics sink reports agree exactly with the run's trace, and watching changes nothing."""

from __future__ import annotations

from collections import Counter
from types import MappingProxyType

import prometheus_client
from agent_engine_core import Engine, LlmReply, NodeFailure, hookimpl
from agent_engine_core.testing import assert_same_trace
from agent_engine_core.tools import ToolResult
from prometheus_client.parser import text_string_to_metric_families

from agent_engine_metrics import MetricsSink

# s -> br (branch) -> ok | bad -> m (merge, include_failures) -> sp (split) -> w -> m2 (merge) -> e
FANOUT = {
    "version": "1.0",
    "nodes": [
        {"id": "s", "role": "start"},
        {"id": "br", "role": "branch"},
        {"id": "ok", "role": "linear"},
        {"id": "bad", "role": "linear", "handler": "boom"},
        {"id": "m", "role": "merge", "merge": {"on_failure": "include_failures"}},
        {"id": "sp", "role": "split", "handler": "three"},
        {"id": "w", "role": "linear"},
        {"id": "m2", "role": "merge"},
        {"id": "e", "role": "exit"},
    ],
    "edges": [
        {"from": "s", "to": "br"}, {"from": "br", "to": "ok"}, {"from": "br", "to": "bad"},
        {"from": "ok", "to": "m"}, {"from": "bad", "to": "m"}, {"from": "m", "to": "sp"},
        {"from": "sp", "to": "w"}, {"from": "w", "to": "m2"}, {"from": "m2", "to": "e"},
    ],
}


def boom(payload, ctx):
    raise NodeFailure("this clone fails on purpose")


HANDLERS = {"boom": boom, "three": lambda payload, ctx: [1, 2, 3]}

# s -> ask (scripted) -> judge (counting provider) -> e
AGENTS = {
    "version": "1.0",
    "nodes": [
        {"id": "s", "role": "start"},
        {"id": "ask", "kind": "agent", "role": "linear", "agent_id": "writer"},
        {"id": "judge", "kind": "agent", "role": "linear", "agent_id": "critic"},
        {"id": "e", "role": "exit"},
    ],
    "edges": [{"from": "s", "to": "ask"}, {"from": "ask", "to": "judge"}, {"from": "judge", "to": "e"}],
}
AGENT_SPECS = {"agents": [
    {"id": "writer", "llm": "scripted/m1", "config": {"responses": {"ask": "a draft"}}},
    {"id": "critic", "llm": "counting/tiny"},
]}


class CountingProvider:
    """An offline provider that reports token usage (the scripted one reports zeros)."""

    def __init__(self, setup):
        self.model = setup.model

    def check(self, node_ids):
        return []

    async def complete(self, request):
        return LlmReply(content='"fine"', model=self.model,
                        usage=MappingProxyType({"input_tokens": 11 + len(request.node_id), "output_tokens": 2}))


class CountingPlugin:
    @hookimpl
    def register_llm_providers(self, register):
        register("counting", CountingProvider)


def with_metrics(manifests, config=None, **entry):
    return {**manifests, "plugins": {"plugins": [{"id": "metrics", "config": config or {}, **entry}]}}


def sink_of(engine: Engine) -> MetricsSink:
    return next(p for p in engine.plugins.manager.get_plugins() if isinstance(p, MetricsSink))


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }


def by_label(found, name: str, *labels: str) -> Counter[tuple[str, ...]]:
    """Sample values of ``name`` keyed by the given label values (zero samples left out, like Counter)."""
    out: Counter[tuple[str, ...]] = Counter()
    for (sample, label_set), value in found.items():
        if sample == name and value:
            mapping = dict(label_set)
            out[tuple(mapping[label] for label in labels)] += int(value)
    return out


def test_metrics_match_a_branch_split_merge_trace_exactly(make_engine):
    engine = make_engine(with_metrics({"workflow": FANOUT}), handlers=HANDLERS)
    first = engine.run(5, run_id="fan")
    second = engine.run(6, run_id="fan2")
    found = samples(sink_of(engine).render())

    stages = Counter((r.node_id, str(r.status)) for r in (*first.trace, *second.trace))
    assert ("bad", "failure") in stages  # the failing clone is really part of what is compared
    assert by_label(found, "agent_engine_node_runs_total", "node", "status") == Counter(
        {key: n for key, n in stages.items()}
    )
    per_node = Counter(r.node_id for r in (*first.trace, *second.trace))
    assert by_label(found, "agent_engine_node_duration_seconds_count", "node") == Counter(
        {(node,): n for node, n in per_node.items()}
    )
    tasks = Counter((t.lineage.kind, str(t.status)) for t in (*first.trace.tasks, *second.trace.tasks))
    assert {kind for kind, _ in tasks} == {"root", "clone", "subtask"}
    assert by_label(found, "agent_engine_tasks_total", "kind", "status") == tasks
    kinds = Counter(t.lineage.kind for t in (*first.trace.tasks, *second.trace.tasks))
    assert by_label(found, "agent_engine_task_duration_seconds_count", "kind") == Counter(
        {(kind,): n for kind, n in kinds.items()}
    )
    assert found[("agent_engine_tasks_in_flight", frozenset())] == 0


def test_metrics_count_agent_calls_and_tokens_per_provider_and_model(make_engine):
    engine = make_engine(with_metrics({"workflow": AGENTS, "agents": AGENT_SPECS}), plugins=[CountingPlugin()])
    results = [engine.run("topic", run_id=f"agents{i}") for i in range(3)]
    found = samples(sink_of(engine).render())

    calls = [c for result in results for record in result.trace for c in record.agent_calls]
    assert len(calls) == 6
    assert by_label(found, "agent_engine_agent_calls_total", "provider", "model") == Counter(
        (c.provider, c.model) for c in calls
    )
    assert by_label(found, "agent_engine_agent_call_duration_seconds_count", "provider", "model") == Counter(
        (c.provider, c.model) for c in calls
    )
    tokens: Counter[tuple[str, ...]] = Counter()
    for call in calls:
        for key, value in call.usage.items():
            tokens[(call.provider, call.model, key.removesuffix("_tokens"))] += value
    assert +tokens == {("counting", "tiny", "input"): 3 * 16, ("counting", "tiny", "output"): 3 * 2}
    assert by_label(found, "agent_engine_tokens_total", "provider", "model", "type") == +tokens
    assert found[("agent_engine_tokens_total", frozenset({("provider", "scripted"), ("model", "m1"),
                                                            ("type", "input")}))] == 0  # reported, as zero


def test_metrics_with_background_dispatch_count_the_same_once_drained(make_engine):
    engine = make_engine(with_metrics({"workflow": FANOUT}, dispatch="background"), handlers=HANDLERS)
    result = engine.run(5, run_id="bg")
    sink = sink_of(engine)
    engine.close()  # drains the background queue
    found = samples(sink.render())
    assert by_label(found, "agent_engine_node_runs_total", "node", "status") == Counter(
        (r.node_id, str(r.status)) for r in result.trace
    )


def test_metrics_sink_leaves_the_trace_digest_identical(make_engine):
    plain = make_engine({"workflow": FANOUT}, handlers=HANDLERS)
    watched = make_engine(with_metrics({"workflow": FANOUT}), handlers=HANDLERS)
    assert not any(isinstance(p, MetricsSink) for p in plain.plugins.manager.get_plugins())
    for run_id, payload in (("same", 5), ("other", [1, "x"])):
        without, with_sink = plain.run(payload, run_id=run_id), watched.run(payload, run_id=run_id)
        assert_same_trace(without, with_sink)
        assert without.trace.digest == with_sink.trace.digest
        assert without.output == with_sink.output
    assert samples(sink_of(watched).render())[
        ("agent_engine_tasks_total", frozenset({("kind", "root"), ("status", "partial")}))
    ] == 2


def test_metrics_of_two_engines_in_one_process_stay_apart(make_engine):
    one = make_engine(with_metrics({"workflow": FANOUT}), handlers=HANDLERS)
    two = make_engine(with_metrics({"workflow": AGENTS, "agents": AGENT_SPECS}), plugins=[CountingPlugin()])
    one.run(1, run_id="one")
    two.run("x", run_id="two-a")
    two.run("y", run_id="two-b")
    first, second = samples(sink_of(one).render()), samples(sink_of(two).render())

    assert by_label(first, "agent_engine_tasks_total", "kind")[("root",)] == 1
    assert by_label(second, "agent_engine_tasks_total", "kind")[("root",)] == 2
    assert {n for (n,) in by_label(first, "agent_engine_node_duration_seconds_count", "node")} == set(
        "s br ok bad m sp w m2 e".split()
    )
    assert {n for (n,) in by_label(second, "agent_engine_node_duration_seconds_count", "node")} == {
        "s", "ask", "judge", "e"
    }
    assert not by_label(first, "agent_engine_agent_calls_total", "provider")
    assert "agent_engine" not in prometheus_client.generate_latest().decode()  # the global registry is untouched


class EchoTool:
    """A tool answering each call with ``answer(arguments)``."""

    def __init__(self, description, answer):
        self.description, self.answer = description, answer
        self.parameters = {"type": "object"}

    def invoke(self, arguments):
        return self.answer(arguments)


class ToolPlugin:
    @hookimpl
    def register_tools(self, register):
        register("demo.echo", lambda setup: EchoTool("echoes", ToolResult.ok))
        register("demo.full", lambda setup: EchoTool("a full disk", lambda args: ToolResult.environment("full")))
        register("demo.refuse", lambda setup: EchoTool("refuses", lambda args: ToolResult.misuse("no")))


def use_tools(payload, ctx):
    ctx.tools.echo(text="a")
    ctx.tools.full()
    if payload["refuse"]:
        ctx.tools.refuse()
    ctx.tools.echo(text="b")
    return payload


TOOLS_WORKFLOW = {
    "version": "1.0",
    "nodes": [{"id": "s", "role": "start"},
              {"id": "work", "role": "linear", "handler": "use_tools", "tools": ["echo", "full", "refuse"]},
              {"id": "e", "role": "exit"}],
    "edges": [{"from": "s", "to": "work"}, {"from": "work", "to": "e"}],
}
TOOLS_SPECS = {"tools": [{"id": "echo", "type": "demo.echo"}, {"id": "full", "type": "demo.full"},
                         {"id": "refuse", "type": "demo.refuse"}]}


def test_metrics_count_the_tool_invocations_the_core_emits_by_tool_node_and_status(make_engine):
    engine = make_engine(with_metrics({"workflow": TOOLS_WORKFLOW, "tools": TOOLS_SPECS}),
                         handlers={"use_tools": use_tools}, plugins=[ToolPlugin()])
    runs = [engine.run({"refuse": False}, run_id="calm"), engine.run({"refuse": True}, run_id="refused")]
    assert [str(run.status) for run in runs] == ["success", "failure"]
    calls = Counter((c.tool_id, r.node_id, str(c.status)) for run in runs for r in run.trace for c in r.tool_calls)
    assert calls == Counter({("echo", "work", "success"): 3, ("full", "work", "error"): 2,
                             ("refuse", "work", "failure"): 1})
    found = samples(sink_of(engine).render())
    assert by_label(found, "agent_engine_tool_calls_total", "tool", "node", "status") == calls
