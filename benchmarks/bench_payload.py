"""Workload 8: payloads that change and grow, as real ones do.

A no-op handler that returns its input unchanged hides every per-stage cost that grows with the payload. Here
every node returns a *changed copy* of its input:

- **add-key chain**: each node returns ``dict(payload) | {node_id: 1}``, so the payload grows by one key per
  node (50 and 400 nodes). Target (issue 10): µs per node at 400 nodes ≤ 1.5 x its value at 50, and ≤ 25 µs.
- **documents**: a 20-node chain carrying a document of 1 KB, 100 KB and 1 MB (ten sections of text), each node
  returning ``{**doc, "rev": doc["rev"] + 1, "last": node_id}``. Target: the 100 KB and 1 MB runs ≤ 3 x the
  1 KB one.

LangGraph runs the same chains with the same node functions on its state's ``x``, without a checkpointer (its
default); Agent Engine keeps its full history, as always. Every side is checked once for the right output.
"""

from __future__ import annotations

from typing import Any

from _graphs import Node, State, agent_engine, chain, langgraph
from _harness import Row, Settings, Side, scaled, time_pair

ADD_KEY_LENGTHS = (50, 400)
DOCUMENT_SIZES = (1_000, 100_000, 1_000_000)
DOCUMENT_NODES = 20


def add_key(payload: Any, ctx: Any) -> Any:
    """Agent Engine: the input with one more key, named after the node."""
    return dict(payload) | {ctx.node_id: 1}


def revise(payload: Any, ctx: Any) -> Any:
    """Agent Engine: a changed copy of the document (sections shared, as a real edit of one field would)."""
    return {**payload, "rev": payload["rev"] + 1, "last": ctx.node_id}


def document(size: int) -> dict[str, Any]:
    """A document of about ``size`` bytes of JSON: a title and ten sections of prose."""
    text = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * (size // 57 + 1))[:size]
    tenth = max(1, size // 10)
    sections = [{"heading": f"Section {i}", "body": text[i * tenth:(i + 1) * tenth]} for i in range(10)]
    return {"title": "Benchmark document", "rev": 0, "last": None, "sections": sections}


def _lg_node(update: Any) -> Any:
    def pick(node: Node) -> Any:
        node_id = node["id"]

        def run(state: State) -> dict[str, Any]:
            return {"x": update(state["x"], node_id)}

        return run

    return pick


def _pair(shape: Any, handler: Any, lg_update: Any, payload: Any, expect: Any) -> tuple[Side, Side]:
    def build_ae() -> Any:
        engine = agent_engine(shape, {"work": handler})
        result = engine.run(payload)
        if result.status != "success" or result.output != expect:
            raise RuntimeError(f"unexpected result: status={result.status!r}")
        return lambda: engine.run(payload)

    def build_lg() -> Any:
        app = langgraph(shape, _lg_node(lg_update)).compile()
        config = {"recursion_limit": len(shape[0]) + 10}
        if app.invoke({"x": payload}, config)["x"] != expect:
            raise RuntimeError("unexpected LangGraph output")
        return lambda: app.invoke({"x": payload}, config)

    return Side.build("Agent Engine", build_ae), Side.build("LangGraph", build_lg)


def run(settings: Settings) -> list[Row]:
    rows = []
    per_node: dict[int, float | None] = {}
    for length in ADD_KEY_LENGTHS:
        shape = chain(length, handler="work")
        expect = {"x": 1} | {node["id"]: 1 for node in shape[0]}
        ae, lg = _pair(shape, add_key, lambda x, node_id: dict(x) | {node_id: 1}, {"x": 1}, expect)
        ae_s, lg_s = time_pair(f"add-key chain {length}", ae, lg, settings)
        per_node[length] = scaled(ae_s, 1e6 / length)
        target = "≤ 25 µs, ≤ 1.5 x the 50-node figure" if length == ADD_KEY_LENGTHS[-1] else "baseline"
        rows.append(Row(f"8. add-key chain of {length}", "µs per node", per_node[length],
                        scaled(lg_s, 1e6 / length), target))
    short, long = (per_node[n] for n in ADD_KEY_LENGTHS)
    if short and long:
        rows.append(Row("8. add-key chain, 400 / 50", "ratio of µs per node", long / short, None, "≤ 1.5"))

    per_run: dict[int, float | None] = {}
    shape = chain(DOCUMENT_NODES, handler="work")
    for size in DOCUMENT_SIZES:
        doc = document(size)
        expect = {**doc, "rev": DOCUMENT_NODES, "last": shape[0][-1]["id"]}
        ae, lg = _pair(shape, revise, lambda x, node_id: {**x, "rev": x["rev"] + 1, "last": node_id}, doc, expect)
        ae_s, lg_s = time_pair(f"document {size}", ae, lg, settings)
        per_run[size] = scaled(ae_s, 1e3)
        target = "baseline" if size == DOCUMENT_SIZES[0] else "≤ 3 x the 1 KB run"
        rows.append(Row(f"8. {DOCUMENT_NODES}-node chain, {size // 1000} KB document", "ms per run", per_run[size],
                        scaled(lg_s, 1e3), target))
    base = per_run[DOCUMENT_SIZES[0]]
    for size in DOCUMENT_SIZES[1:]:
        value = per_run[size]
        if base and value:
            rows.append(Row(f"8. {size // 1000} KB / 1 KB document run", "ratio of ms per run", value / base, None,
                            "≤ 3"))
    return rows
