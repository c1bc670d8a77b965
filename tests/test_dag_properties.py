"""Properties of the built DAG over generated valid workflows.

Hypothesis builds layered workflows: one or more start nodes, chains of linear nodes, branch → … → merge
diamonds, split → … → merge map-reduce blocks (one edge or several), decisions whose labelled paths meet at a
merge or end at their own exits, fan-outs nested two deep; then shuffles the order nodes and edges are declared
in. Every such workflow must load, and its topological order must be valid and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine

HANDLERS = {"pick": lambda payload, ctx: "l0"}
MAX_DEPTH = 2


@dataclass
class _Graph:
    """A workflow under construction."""

    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)

    def node(self, role: str, **fields: Any) -> str:
        node_id = f"{role}{len(self.nodes)}"
        self.nodes.append({"id": node_id, "role": role, **fields})
        return node_id

    def edge(self, source: str, target: str, label: str | None = None) -> None:
        edge = {"from": source, "to": target}
        if label is not None:
            edge["label"] = label
        self.edges.append(edge)


def _chain(draw: st.DrawFn, graph: _Graph, prev: str, depth: int) -> str:
    """Append blocks after ``prev``; returns the last node (which has no out-edge yet)."""
    kinds = ["linear", "branch", "split", "decision"] if depth < MAX_DEPTH else ["linear"]
    for _ in range(draw(st.integers(0, 3 if depth == 0 else 2))):
        kind = draw(st.sampled_from(kinds))
        if kind == "linear":
            node = graph.node("linear")
            graph.edge(prev, node)
            prev = node
            continue
        if kind == "decision":
            fork = graph.node("decision", handler="pick")
        else:
            fork = graph.node(kind)
        width = draw(st.integers(1 if kind == "split" else 2, 3))
        graph.edge(prev, fork)
        ends = []
        for index in range(width):
            first = graph.node("linear")
            graph.edge(fork, first, f"l{index}" if kind == "decision" else None)
            ends.append(_chain(draw, graph, first, depth + 1))
        join = graph.node("merge", merge={"on_failure": draw(st.sampled_from(["fail_on_any", "ignore_failures"]))})
        for end in ends:
            graph.edge(end, join)
        prev = join
    return prev


@st.composite
def workflows(draw: st.DrawFn) -> dict[str, Any]:
    """A valid workflow manifest (nodes and edges declared in a shuffled order)."""
    graph = _Graph()
    starts = [graph.node("start") for _ in range(draw(st.integers(1, 3)))]
    if len(starts) > 1:
        graph.nodes[draw(st.integers(0, len(starts) - 1))]["default_start"] = True
    exits: list[str] = []
    for start in starts:
        end = _chain(draw, graph, start, 0)
        if end == start or draw(st.booleans()):  # a start has exactly one out-edge
            node = graph.node("linear")
            graph.edge(end, node)
            end = node
        if draw(st.booleans()):
            decision = graph.node("decision", handler="pick")
            graph.edge(end, decision)
            for index in range(draw(st.integers(2, 3))):
                exit_id = graph.node("exit")
                graph.edge(decision, exit_id, f"l{index}")
                exits.append(exit_id)
        elif exits and draw(st.booleans()):
            graph.edge(end, draw(st.sampled_from(exits)))  # exits take any number of in-edges
        else:
            exit_id = graph.node("exit")
            graph.edge(end, exit_id)
            exits.append(exit_id)
    nodes = draw(st.permutations(graph.nodes))
    edges = draw(st.permutations(graph.edges))
    return {"version": "1.0", "nodes": list(nodes), "edges": list(edges)}


def load(manifest: dict[str, Any]) -> Engine:
    return Engine.from_dict({"workflow": manifest}, handlers=HANDLERS)


@settings(max_examples=100, deadline=None)
@given(workflows())
def test_order_is_a_topological_order_of_every_node(manifest: dict[str, Any]) -> None:
    dag = load(manifest).dag
    ids = [n["id"] for n in manifest["nodes"]]
    assert sorted(dag.order) == sorted(ids)
    assert len(dag.order) == len(set(dag.order))
    position = {node_id: index for index, node_id in enumerate(dag.order)}
    for edge in manifest["edges"]:
        assert position[edge["from"]] < position[edge["to"]], edge


@settings(max_examples=100, deadline=None)
@given(workflows())
def test_nodes_keep_their_edges_in_declaration_order(manifest: dict[str, Any]) -> None:
    dag = load(manifest).dag
    for node_id, node in dag.nodes.items():
        declared = [(e["to"], e.get("label")) for e in manifest["edges"] if e["from"] == node_id]
        assert [(e.target, e.label) for e in node.out_edges] == declared
        assert [e.index for e in node.out_edges] == list(range(len(declared)))
        assert node.in_degree == sum(1 for e in manifest["edges"] if e["to"] == node_id)
    starts = [n["id"] for n in manifest["nodes"] if n["role"] == "start"]
    assert dag.starts == tuple(starts)
    marked = [n["id"] for n in manifest["nodes"] if n.get("default_start")]
    assert dag.default_start == (marked[0] if marked else starts[0])


@settings(max_examples=100, deadline=None)
@given(workflows())
def test_loading_is_deterministic(manifest: dict[str, Any]) -> None:
    first = load(manifest)
    second = load(manifest)
    assert first.dag.order == second.dag.order
    assert dict(first.dag.depths) == dict(second.dag.depths)
    assert first.metadata["manifests"] == second.metadata["manifests"]
