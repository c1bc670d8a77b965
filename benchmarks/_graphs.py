"""The graph shapes the workloads run, written once and built on both frameworks.

A shape is a list of node dicts and a list of edge dicts in Agent Engine's ``workflow.yaml`` form (SPEC 3.1).
``agent_engine`` turns a shape into an ``Engine``; ``langgraph`` turns the *same* shape into a compiled
LangGraph ``StateGraph`` with one LangGraph node per Agent Engine node and one edge per edge, so the two
frameworks always execute an identical topology:

- an Agent Engine start node is entered from LangGraph's ``START``; an exit node leads to ``END``;
- a node with two or more in-edges (a merge) gets one LangGraph *join* edge ``add_edge([sources], merge)``,
  which waits for every source, like Agent Engine's merge waits for every child of its fan-out.

LangGraph's state has the payload in ``x`` and an append-only ``results`` list (the reducer that makes
fan-in work); Agent Engine needs neither, since each node's output is the next node's input.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

Node = dict[str, str]
Edge = dict[str, str]
Shape = tuple[list[Node], list[Edge]]


def noop(payload: Any, ctx: Any) -> Any:
    """Agent Engine no-op handler: output = input."""
    return payload


# ---------------------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------------------


def _node(node_id: str, role: str, handler: str | None) -> Node:
    node = {"id": node_id, "kind": "deterministic", "role": role}
    if handler is not None:
        node["handler"] = handler
    return node


def chain(length: int, *, handler: str | None = "noop") -> Shape:
    """``length`` nodes in a line: start, ``length - 2`` linear nodes, exit."""
    roles = ["start", *["linear"] * (length - 2), "exit"]
    ids = [f"n{i:04d}" for i in range(length)]
    nodes = [_node(i, r, handler) for i, r in zip(ids, roles, strict=True)]
    edges = [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]
    return nodes, edges


def fan_out(width: int, *, child_handler: str | None = "noop", handler: str | None = "noop") -> Shape:
    """start -> branch -> ``width`` linear children -> merge -> exit (the merge keeps its default output)."""
    children = [f"child{i:02d}" for i in range(width)]
    nodes = [
        _node("start", "start", handler),
        _node("fork", "branch", handler),
        *(_node(c, "linear", child_handler) for c in children),
        _node("join", "merge", None),
        _node("end", "exit", handler),
    ]
    edges = [
        {"from": "start", "to": "fork"},
        *({"from": "fork", "to": c} for c in children),
        *({"from": c, "to": "join"} for c in children),
        {"from": "join", "to": "end"},
    ]
    return nodes, edges


def diamonds(node_count: int, edge_count: int) -> Shape:
    """A valid DAG of exactly ``node_count`` nodes and ``edge_count`` edges, without handlers.

    start -> L filler linears -> m diamonds (branch -> k linears -> merge) in a row -> exit. With K the
    total number of diamond children: nodes = 2 + L + 2m + K and edges = 1 + L + 2K + (m - 1) + 1, so
    3m + L = 2 * nodes - 3 - edges; L in {0, 1, 2} picks m, and K is spread evenly over the diamonds.
    """
    slack = 2 * node_count - 3 - edge_count
    diamond_count, filler = divmod(slack, 3)
    children = node_count - 2 - filler - 2 * diamond_count
    if diamond_count < 1 or children < 2 * diamond_count:
        raise ValueError(f"no diamond chain has {node_count} nodes and {edge_count} edges")
    base, wider = divmod(children, diamond_count)

    nodes = [_node("start", "start", None)]
    nodes += [_node(f"pad{i}", "linear", None) for i in range(filler)]
    edges = [{"from": a["id"], "to": b["id"]} for a, b in itertools.pairwise(nodes)]
    tail = nodes[-1]["id"]  # the node the next diamond hangs from
    for d in range(diamond_count):
        fork, join = f"d{d:03d}_fork", f"d{d:03d}_join"
        kids = [f"d{d:03d}_c{c:02d}" for c in range(base + (d < wider))]
        nodes += [_node(fork, "branch", None), *(_node(k, "linear", None) for k in kids)]
        nodes.append(_node(join, "merge", None))
        edges.append({"from": tail, "to": fork})
        edges += [{"from": fork, "to": k} for k in kids] + [{"from": k, "to": join} for k in kids]
        tail = join
    nodes.append(_node("end", "exit", None))
    edges.append({"from": tail, "to": "end"})
    return nodes, edges


def workflow(shape: Shape) -> dict[str, Any]:
    """The ``workflow`` manifest of a shape."""
    nodes, edges = shape
    return {"version": "1.0", "nodes": nodes, "edges": edges}


def block_yaml(shape: Shape) -> str:
    """The ``workflow.yaml`` text of a shape as people write it by hand (like ``examples/``).

    Block style with indented lists, one key per line, a blank line between nodes, edges as block mappings,
    a quoted version and comments. ``yaml.safe_dump`` writes block style too, but with unindented lists,
    no comments and no blank lines; the two files hold the same data.
    """
    nodes, edges = shape
    lines = ["# generated by benchmarks/_graphs.py: block_yaml", 'version: "1.0"', "", "nodes:"]
    for node in nodes:
        lines += [*_block_item(node), ""]
    lines.append("edges:  # from -> to")
    for edge in edges:
        lines += _block_item(edge)
    return "\n".join(lines) + "\n"


def _block_item(item: dict[str, str]) -> list[str]:
    """One list item of plain scalars in block style: ``  - key: value`` then ``    key: value`` lines."""
    return [f"  {'-' if i == 0 else ' '} {key}: {value}" for i, (key, value) in enumerate(item.items())]


# ---------------------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------------------


def agent_engine(shape: Shape, handlers: dict[str, Callable[..., Any]], **manifests: Any) -> Any:
    """An ``Engine`` built in memory from a shape, with extra manifests (e.g. ``scheduler=...``)."""
    from agent_engine_core import Engine  # noqa: PLC0415 - the other side must run without this import

    return Engine.from_dict({"workflow": workflow(shape), **manifests}, handlers=handlers)


class State(TypedDict):
    """LangGraph state: the payload, and the fan-in list its merge nodes read."""

    x: Any
    results: Annotated[list[Any], operator.add]


def lg_pass(state: State) -> dict[str, Any]:
    """LangGraph no-op node: writes its input back (the same work as Agent Engine's ``output = input``)."""
    return {"x": state["x"]}


def lg_collect(state: State) -> dict[str, Any]:
    """LangGraph node feeding a merge: appends its payload to the fan-in list."""
    return {"results": [state["x"]]}


def lg_merge(state: State) -> dict[str, Any]:
    """LangGraph merge node: its output is the list of child outputs (as Agent Engine's merge_inputs)."""
    return {"x": {"merge_inputs": list(state["results"])}}


def langgraph(shape: Shape, node_fn: Callable[[Node], Callable[[State], Any]]) -> Any:
    """The LangGraph ``StateGraph`` of a shape, not yet compiled; ``node_fn`` picks each node's function."""
    from langgraph.graph import END, START, StateGraph  # noqa: PLC0415 - kept out of Agent Engine's runs

    nodes, edges = shape
    graph = StateGraph(State)
    for node in nodes:
        graph.add_node(node["id"], node_fn(node))
        if node["role"] == "start":
            graph.add_edge(START, node["id"])
        elif node["role"] == "exit":
            graph.add_edge(node["id"], END)
    sources: dict[str, list[str]] = {}
    for edge in edges:
        sources.setdefault(edge["to"], []).append(edge["from"])
    for target, froms in sources.items():
        graph.add_edge(froms if len(froms) > 1 else froms[0], target)
    return graph


def default_lg_fn(shape: Shape) -> Callable[[Node], Callable[[State], Any]]:
    """Pass-through everywhere, except that merges read the fan-in list and their sources feed it."""
    nodes, edges = shape
    merges = {n["id"] for n in nodes if n["role"] == "merge"}
    feeds_merge = {e["from"] for e in edges if e["to"] in merges}

    def pick(node: Node) -> Callable[[State], Any]:
        if node["id"] in merges:
            return lg_merge
        return lg_collect if node["id"] in feeds_merge else lg_pass

    return pick
