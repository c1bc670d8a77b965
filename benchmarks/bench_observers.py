"""Workload 7: per-node overhead of the 200-node chain with three observers attached, against none.

What it measures: the µs per node of the same no-op chain as workload 1, with no observer and with three
observers that receive every event (Agent Engine: three plugins implementing ``on_event``, so every stage
builds its frozen events and the core dispatches each to three isolated implementations; LangGraph: three
LangChain callback handlers on the run, each receiving every chain start and end). The issue's target is
Agent Engine's ratio "with 3 observers / with none" at most 1.3.
"""

from __future__ import annotations

from typing import Any

from _graphs import chain, default_lg_fn, langgraph, noop, workflow
from _harness import Row, Settings, Side, scaled, time_pair

LENGTH = 200


def _agent_engine(observers: int):
    from agent_engine_core import Engine, hookimpl  # noqa: PLC0415 - the other side runs without this import

    class Observer:
        """An observer that counts the events it receives."""

        def __init__(self, name: str) -> None:
            self.name = name
            self.events = 0

        @hookimpl
        def on_event(self, event: Any) -> None:
            self.events += 1

    plugins = [Observer(f"observer{index}") for index in range(observers)]
    engine = Engine.from_dict({"workflow": workflow(chain(LENGTH))}, handlers={"noop": noop}, plugins=plugins)
    result = engine.run({"x": 1})
    if result.status != "success" or any(p.events == 0 for p in plugins):
        raise RuntimeError("observers saw nothing, or the run failed")
    return lambda: engine.run({"x": 1})


def _langgraph(observers: int):
    from langchain_core.callbacks import BaseCallbackHandler  # noqa: PLC0415

    class Counter(BaseCallbackHandler):
        def __init__(self) -> None:
            self.events = 0

        def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
            self.events += 1

        def on_chain_end(self, *args: Any, **kwargs: Any) -> None:
            self.events += 1

    shape = chain(LENGTH)
    app = langgraph(shape, default_lg_fn(shape)).compile()
    handlers = [Counter() for _ in range(observers)]
    config = {"recursion_limit": LENGTH + 10, "callbacks": handlers}
    app.invoke({"x": {"x": 1}}, config)
    if any(h.events == 0 for h in handlers):
        raise RuntimeError("callbacks saw nothing")
    return lambda: app.invoke({"x": {"x": 1}}, config)


def run(settings: Settings) -> list[Row]:
    per_node = {}
    for observers in (0, 3):
        ae = Side.build("Agent Engine", lambda n=observers: _agent_engine(n))
        lg = Side.build("LangGraph", lambda n=observers: _langgraph(n))
        times = time_pair(f"observers {observers}", ae, lg, settings)
        per_node[observers] = tuple(scaled(t, 1e6 / LENGTH) for t in times)
    rows = [
        Row(f"7. chain of {LENGTH}, no observers", "µs per node", *per_node[0]),
        Row(f"7. chain of {LENGTH}, 3 observers", "µs per node", *per_node[3]),
    ]
    ratios = [
        None if per_node[0][i] in (None, 0) or per_node[3][i] is None else per_node[3][i] / per_node[0][i]
        for i in (0, 1)
    ]
    rows.append(Row("7. overhead of 3 observers", "with / without", ratios[0], ratios[1], "≤ 1.3"))
    return rows
