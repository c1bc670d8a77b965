"""Workload 1: per-node overhead of a chain of no-op nodes, at 50, 100, 200 and 400 nodes.

What it measures: the time one run of start -> (N - 2) linear -> exit takes, divided by N, i.e. what the
framework itself costs per node when the node does nothing. Measured at four lengths to show that the cost per
node stays flat as the chain grows (no quadratic history copying, no per-step scans of the whole graph); the
last row is the marginal cost, the slope between the shortest and the longest chain.

Fairness: every node on both sides runs a no-op function that returns its input (Agent Engine handler
``noop``; LangGraph node writing ``x`` back). Agent Engine keeps its full history and canonical trace, its
default; LangGraph runs without a checkpointer, its default. LangGraph's ``recursion_limit`` is raised to fit.
"""

from __future__ import annotations

from _graphs import agent_engine, chain, default_lg_fn, langgraph, noop
from _harness import Row, Settings, Side, scaled, time_pair

LENGTHS = (50, 100, 200, 400)


def _agent_engine(length: int):
    engine = agent_engine(chain(length), {"noop": noop})
    result = engine.run({"x": 1})
    if result.status != "success" or result.output != {"x": 1}:
        raise RuntimeError(f"unexpected result: status={result.status!r} output={result.output!r}")
    if len(result.trace.records) != length:  # the full history is what is being paid for
        raise RuntimeError(f"expected {length} stage records, got {len(result.trace.records)}")
    return lambda: engine.run({"x": 1})


def _langgraph(length: int):
    shape = chain(length)
    app = langgraph(shape, default_lg_fn(shape)).compile()
    config = {"recursion_limit": length + 10}
    if app.invoke({"x": {"x": 1}}, config)["x"] != {"x": 1}:
        raise RuntimeError("unexpected LangGraph output")
    return lambda: app.invoke({"x": {"x": 1}}, config)


def run(settings: Settings) -> list[Row]:
    rows = []
    per_run: dict[int, tuple[float | None, float | None]] = {}
    for length in LENGTHS:
        ae = Side.build("Agent Engine", lambda n=length: _agent_engine(n))
        lg = Side.build("LangGraph", lambda n=length: _langgraph(n))
        per_run[length] = time_pair(f"chain {length}", ae, lg, settings)
        ae_us, lg_us = (scaled(t, 1e6 / length) for t in per_run[length])
        target = "flat in N" if length != 200 else "flat in N (headline)"
        rows.append(Row(f"1. chain of {length} no-op nodes", "µs per node", ae_us, lg_us, target))

    short, long = LENGTHS[0], LENGTHS[-1]

    def slope(side: int) -> float | None:
        a, b = per_run[short][side], per_run[long][side]
        return None if a is None or b is None else (b - a) / (long - short) * 1e6

    rows.append(
        Row(
            f"1. chain, marginal ({short}->{long})",
            "µs per added node",
            slope(0),
            slope(1),
            "≈ µs per node",
            note="slope of run time between the shortest and the longest chain; close to the per-node "
            "figures when the per-node cost does not grow with the chain",
        )
    )
    return rows
