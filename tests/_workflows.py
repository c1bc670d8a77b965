"""Small builders for workflows in tests: nodes and edges in a line each, handlers as plain callables.

``engine(nodes, edges, handlers, **manifests)`` wraps ``Engine.from_dict``. A node's ``handler`` may be a
callable: it is registered under ``"test:<node id>"`` so tests need no module on disk. Every engine it makes
is closed when the test ends (``close_engines``, called by the autouse fixture of tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from agent_engine_core import Engine

Edge = tuple[str, str] | tuple[str, str, str]

_OPEN: list[Engine] = []
"""Engines ``engine()`` made that ``close_engines`` has not closed yet."""


def node(node_id: str, role: str, handler: Callable[..., Any] | str | None = None, **fields: Any) -> dict[str, Any]:
    """One workflow node; ``fields`` are any other NodeSpec fields (``kind``, ``schema_out``, ``merge``...)."""
    spec: dict[str, Any] = {"id": node_id, "role": role, **fields}
    if handler is not None:
        spec["handler"] = handler
    return spec


def edges(*pairs: Edge) -> list[dict[str, Any]]:
    """Edges from ``(from, to)`` or ``(from, to, label)`` tuples."""
    out = []
    for pair in pairs:
        edge: dict[str, Any] = {"from": pair[0], "to": pair[1]}
        if len(pair) == 3:
            edge["label"] = pair[2]
        out.append(edge)
    return out


def workflow(nodes: Sequence[Mapping[str, Any]], edge_list: Iterable[Edge | Mapping[str, Any]],
             handlers: Mapping[str, Callable[..., Any]] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The workflow manifest and the handler mapping, with callable handlers registered by node id."""
    registry = dict(handlers or {})
    specs = []
    for given in nodes:
        spec = dict(given)
        if callable(spec.get("handler")):
            name = f"test:{spec['id']}"
            registry[name] = spec["handler"]
            spec["handler"] = name
        specs.append(spec)
    edge_specs = [dict(e) if isinstance(e, Mapping) else edges(e)[0] for e in edge_list]
    return {"version": "1.0", "nodes": specs, "edges": edge_specs}, registry


def engine(nodes: Sequence[Mapping[str, Any]], edge_list: Iterable[Edge | Mapping[str, Any]],
           handlers: Mapping[str, Callable[..., Any]] | None = None, **manifests: Any) -> Engine:
    """``Engine.from_dict`` over the given nodes and edges plus any other manifests (``agents=``, ...)."""
    wf, registry = workflow(nodes, edge_list, handlers)
    made = Engine.from_dict({"workflow": wf, **manifests}, handlers=registry)
    _OPEN.append(made)
    return made


def close_engines() -> None:
    """Close every engine ``engine()`` made since the last call: its handler threads, sinks, memory, providers."""
    while _OPEN:
        _OPEN.pop().close()


def scheduler(fanout_concurrency: int) -> dict[str, Any]:
    """A scheduler manifest with the given fan-out bound."""
    return {"scheduler": {"fanout_concurrency": fanout_concurrency}}


def scripted_agents(responses: Mapping[str, Any], *, agent_id: str = "clerk", prompt: str = "Be brief.",
                    **config: Any) -> dict[str, Any]:
    """An agents manifest with one scripted agent answering ``responses`` (node id -> answer)."""
    return {"agents": [{"id": agent_id, "llm": f"scripted/{agent_id}", "prompt": prompt,
                        "config": {"responses": dict(responses), **config}}]}


# ---- handlers used across modules ---------------------------------------------------------------------


def fail(reason: str = "boom", **data: Any) -> Callable[..., Any]:
    """A handler that raises ``NodeFailure(reason, data=data)``."""
    from agent_engine_core import NodeFailure

    def handler(payload: Any, ctx: Any) -> Any:
        raise NodeFailure(reason, data=data or None)

    return handler


def constant(value: Any) -> Callable[..., Any]:
    """A handler that returns ``value`` whatever its input."""
    return lambda payload, ctx: value


def choose(label: Any) -> Callable[..., Any]:
    """A decision handler that always answers ``label``."""
    return lambda payload, ctx: label


def sleepy(delays: Mapping[int, float], transform: Callable[[Any], Any] = lambda p: p) -> Callable[..., Any]:
    """A sync handler that sleeps ``delays[sibling index]`` seconds, then returns ``transform(payload)``."""
    def handler(payload: Any, ctx: Any) -> Any:
        time.sleep(delays.get(ctx.lineage.index or 0, 0.0))
        return transform(payload)

    return handler


def async_sleepy(delays: Mapping[int, float], transform: Callable[[Any], Any] = lambda p: p) -> Callable[..., Any]:
    """The async twin of ``sleepy``."""
    async def handler(payload: Any, ctx: Any) -> Any:
        await asyncio.sleep(delays.get(ctx.lineage.index or 0, 0.0))
        return transform(payload)

    return handler


class InFlight:
    """Counts handler calls in flight and the maximum seen at once (thread safe)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.now = 0
        self.max = 0
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, payload: Any, ctx: Any) -> Any:
        with self._lock:
            self.now += 1
            self.calls += 1
            self.max = max(self.max, self.now)
        try:
            time.sleep(self.delay)
            return payload
        finally:
            with self._lock:
                self.now -= 1


def run_with_timeout(eng: Engine, payload: Any, timeout: float = 10.0, **kwargs: Any) -> Any:
    """``eng.arun`` under ``asyncio.wait_for``: a stall fails with ``TimeoutError`` instead of hanging."""
    async def go() -> Any:
        return await asyncio.wait_for(eng.arun(payload, **kwargs), timeout)

    return asyncio.run(go())


def merge_inputs(result_or_record: Any) -> list[dict[str, Any]]:
    """The ``merge_inputs`` list of a merge stage record."""
    return result_or_record.input["merge_inputs"]


def stage(result: Any, node_id: str, task_id: str | None = None) -> Any:
    """The one stage record of ``node_id`` (in ``task_id`` when given); fails if there is not exactly one."""
    found = [r for r in result.trace.records if r.node_id == node_id and (task_id is None or r.task_id == task_id)]
    assert len(found) == 1, f"expected one stage at {node_id!r}, found {[(r.task_id, r.node_id) for r in found]}"
    return found[0]


def stages(result: Any, node_id: str) -> list[Any]:
    """Every stage record of ``node_id``, in canonical order."""
    return [r for r in result.trace.records if r.node_id == node_id]


def split_workflow(work: Callable[..., Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """start -> split -> one worker node running ``work`` for every item -> merge -> exit (as ``workflow``)."""
    return workflow(
        [node("s", "start"), node("fan", "split"), node("w", "linear", handler=work), node("join", "merge"),
         node("e", "exit")],
        [("s", "fan"), ("fan", "w"), ("w", "join"), ("join", "e")],
    )


def split_engine(work: Callable[..., Any]) -> Engine:
    """An engine of ``split_workflow(work)``, closed when the test ends."""
    wf, registry = split_workflow(work)
    return engine(wf["nodes"], wf["edges"], registry)


def branch_merge(handler: str) -> dict[str, Any]:
    """Manifests of start -> branch -> two clones running ``handler`` -> merge -> exit."""
    return {
        "workflow": {
            "version": "1.0",
            "nodes": [
                {"id": "s", "role": "start"},
                {"id": "fan", "role": "branch"},
                {"id": "a", "role": "linear", "handler": handler},
                {"id": "b", "role": "linear", "handler": handler},
                {"id": "join", "role": "merge"},
                {"id": "e", "role": "exit"},
            ],
            "edges": [
                {"from": "s", "to": "fan"}, {"from": "fan", "to": "a"}, {"from": "fan", "to": "b"},
                {"from": "a", "to": "join"}, {"from": "b", "to": "join"}, {"from": "join", "to": "e"},
            ],
        },
    }
