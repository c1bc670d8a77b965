"""Workload 2: one 64-way branch + merge of no-op nodes, time per run.

What it measures: the cost of a wide fan-out and fan-in when the children do nothing: creating 64 child
tasks (clones, with derived ids and lineage), scheduling them, collecting them in child-index order at the
merge and continuing the parent. Graph: start -> branch (64 out-edges) -> 64 linear -> merge -> exit.

Fairness: start, branch, children and exit run no-op functions on both sides. Agent Engine's merge has no
handler, so it outputs its default ``{"merge_inputs": [...]}`` (64 records with task id, lineage, status and
output); LangGraph's children append to a list channel with an ``operator.add`` reducer and its merge node (a
join edge that waits for all 64) returns that list. Both sides run at their default concurrency.
"""

from __future__ import annotations

from _graphs import agent_engine, default_lg_fn, fan_out, langgraph, noop
from _harness import Row, Settings, Side, scaled, time_pair

WIDTH = 64


def _agent_engine():
    engine = agent_engine(fan_out(WIDTH), {"noop": noop})
    result = engine.run({"x": 1})
    merged = result.output.get("merge_inputs") if isinstance(result.output, dict) else None
    if result.status != "success" or not merged or len(merged) != WIDTH:
        raise RuntimeError(f"unexpected result: status={result.status!r} output={result.output!r:.200}")
    return lambda: engine.run({"x": 1})


def _langgraph():
    shape = fan_out(WIDTH)
    app = langgraph(shape, default_lg_fn(shape)).compile()
    if len(app.invoke({"x": {"x": 1}, "results": []})["x"]["merge_inputs"]) != WIDTH:
        raise RuntimeError("unexpected LangGraph output")
    return lambda: app.invoke({"x": {"x": 1}, "results": []})


def run(settings: Settings) -> list[Row]:
    ae = Side.build("Agent Engine", _agent_engine)
    lg = Side.build("LangGraph", _langgraph)
    ae_s, lg_s = time_pair("branch+merge", ae, lg, settings)
    return [Row(f"2. {WIDTH}-way branch + merge", "ms per run", scaled(ae_s, 1e3), scaled(lg_s, 1e3))]
