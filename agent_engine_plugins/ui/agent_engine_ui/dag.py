"""The workflow DAG drawn as SVG on the server: layered top-down, each node coloured by its status in one run.

No layout engine runs in the browser (nothing to fetch, nothing to wait for): nodes are put in layers by their
longest path from a start node, ordered within a layer by a few barycentre sweeps (fewer crossings), and drawn
as boxes with cubic edges. The edges a run took are highlighted; nodes that ran only in fan-out tasks (clones
or subtasks) are framed together with the number of tasks. A 2,000-node workflow is laid out in milliseconds.
"""

from __future__ import annotations

import functools
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Graph", "GraphEdge", "GraphNode", "NodeMark", "layers_of", "render_svg"]

NODE_W, NODE_H = 176, 46
GAP_X, GAP_Y = 28, 58
MARGIN = 24
LABEL_CHARS = 22
"""Characters of a node id shown in its box; the whole id is in its tooltip and its stage panel."""
SWEEPS = 4


@dataclass(frozen=True, slots=True)
class GraphNode:
    """A node as drawn: its id, its role and whether an agent answers it."""

    id: str
    role: str
    agent: bool = False


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """A directed edge and its label (a decision's)."""

    source: str
    target: str
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes in the workflow's order, and edges."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


@dataclass(frozen=True, slots=True)
class NodeMark:
    """What one run did at a node: the status shown, how many stages ran it, and in how many fan-out tasks."""

    status: str
    stages: int
    fanout_tasks: int = 0
    """Tasks other than the root (clones, subtasks) that ran the node."""
    root: bool = True
    """Whether the root task ran the node."""


def layers_of(graph: Graph) -> list[list[str]]:
    """Node ids by layer: a node's layer is the length of the longest path to it; each layer in drawing order."""
    ids = [node.id for node in graph.nodes]
    successors: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(ids, 0)
    for edge in graph.edges:
        successors[edge.source].append(edge.target)
        indegree[edge.target] += 1
    depth = dict.fromkeys(ids, 0)
    ready = deque(node_id for node_id in ids if indegree[node_id] == 0)
    seen = 0
    while ready:
        node_id = ready.popleft()
        seen += 1
        for target in successors[node_id]:
            depth[target] = max(depth[target], depth[node_id] + 1)
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    if seen < len(ids):  # not a DAG (a trace drawn without its workflow): what a cycle holds goes last
        bottom = max(depth.values(), default=0) + 1
        for node_id in ids:
            if indegree[node_id] > 0:
                depth[node_id] = bottom
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node_id in ids:
        layers[depth[node_id]].append(node_id)
    return _ordered(layers, graph.edges)


def _ordered(layers: list[list[str]], edges: Sequence[GraphEdge]) -> list[list[str]]:
    """Each layer sorted by the mean position of its neighbours in the layer above, then below, a few times."""
    above: dict[str, list[str]] = defaultdict(list)
    below: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        above[edge.target].append(edge.source)
        below[edge.source].append(edge.target)
    position = {node_id: index for layer in layers for index, node_id in enumerate(layer)}
    for sweep in range(SWEEPS):
        neighbours, indices = (above, range(1, len(layers))) if sweep % 2 == 0 else \
            (below, range(len(layers) - 2, -1, -1))
        for index in indices:
            layers[index].sort(key=functools.partial(_centre, neighbours=neighbours, position=position))
            for place, node_id in enumerate(layers[index]):
                position[node_id] = place
    return layers


def _centre(node_id: str, neighbours: Mapping[str, list[str]], position: Mapping[str, int]) -> float:
    """The mean position of a node's neighbours in the adjacent layer (its own position when it has none)."""
    linked = [position[other] for other in neighbours.get(node_id, ())]
    return sum(linked) / len(linked) if linked else position[node_id]


def render_svg(graph: Graph, marks: Mapping[str, NodeMark], taken: Iterable[tuple[str, str]]) -> str:
    """The SVG of ``graph``: each node ``<g class="node s-STATUS" data-node=ID>``, taken edges ``edge taken``."""
    layers = layers_of(graph)
    widest = max((len(layer) for layer in layers), default=0)
    width = 2 * MARGIN + widest * NODE_W + max(widest - 1, 0) * GAP_X
    height = 2 * MARGIN + len(layers) * NODE_H + max(len(layers) - 1, 0) * GAP_Y
    at: dict[str, tuple[int, int]] = {}
    for row, layer in enumerate(layers):
        offset = (width - (len(layer) * NODE_W + (len(layer) - 1) * GAP_X)) // 2
        for place, node_id in enumerate(layer):
            at[node_id] = (offset + place * (NODE_W + GAP_X), MARGIN + row * (NODE_H + GAP_Y))
    taken_edges = set(taken)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="workflow graph">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" '
             'markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>'
             '<marker id="arrow-taken" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" markerHeight="9" '
             'markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>']
    frames, captions = _frames(graph, marks, at)
    parts.extend(frames)
    parts.extend(_edge(edge, at, (edge.source, edge.target) in taken_edges) for edge in graph.edges)
    parts.extend(_node(node, marks.get(node.id), at[node.id]) for node in graph.nodes)
    parts.extend(captions)  # over the edges that cross a frame's top, so they stay readable
    parts.append("</svg>")
    return "".join(parts)


def _edge(edge: GraphEdge, at: Mapping[str, tuple[int, int]], taken: bool) -> str:
    (sx, sy), (tx, ty) = at[edge.source], at[edge.target]
    x1, y1, x2, y2 = sx + NODE_W // 2, sy + NODE_H, tx + NODE_W // 2, ty
    bend = max((y2 - y1) // 2, GAP_Y // 2)
    marker = "arrow-taken" if taken else "arrow"
    drawn = (f'<path class="edge{" taken" if taken else ""}" data-from="{escape(edge.source)}" '
             f'data-to="{escape(edge.target)}" d="M{x1},{y1} C{x1},{y1 + bend} {x2},{y2 - bend} {x2},{y2}" '
             f'marker-end="url(#{marker})"/>')
    if edge.label:
        mx, my = (x1 + x2) // 2, (y1 + y2) // 2
        drawn += (f'<text class="edge-label{" taken" if taken else ""}" x="{mx}" y="{my}" text-anchor="middle">'
                  f"{escape(_short(edge.label))}</text>")
    return drawn


def _node(node: GraphNode, mark: NodeMark | None, at: tuple[int, int]) -> str:
    x, y = at
    status = mark.status if mark is not None else "none"
    shape = "terminal" if node.role in ("start", "exit") else node.role
    kind = f"{node.role} · agent" if node.agent else node.role
    if mark is not None and mark.stages > 1:
        kind += f" · \u00d7{mark.stages}"  # multiplication sign: "ran 3 times"
    ran = "did not run" if mark is None else f"{mark.status}, {mark.stages} stage(s)"
    radius = NODE_H // 2 if shape == "terminal" else 6
    return (f'<g class="node s-{escape(status)} r-{escape(shape)}{" agent" if node.agent else ""}" '
            f'data-node="{escape(node.id)}" tabindex="0" role="button" aria-label="{escape(node.id)}: {ran}">'
            f"<title>{escape(node.id)} ({escape(kind)}): {ran}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="{radius}"/>'
            f'<text class="node-id" x="{x + NODE_W // 2}" y="{y + 19}" text-anchor="middle">'
            f"{escape(_short(node.id))}</text>"
            f'<text class="node-role" x="{x + NODE_W // 2}" y="{y + 36}" text-anchor="middle">{escape(kind)}</text>'
            "</g>")


def _frames(graph: Graph, marks: Mapping[str, NodeMark],
            at: Mapping[str, tuple[int, int]]) -> tuple[list[str], list[str]]:
    """A dashed frame around each connected group of nodes that ran only in fan-out tasks, and its caption."""
    inside = {n.id for n in graph.nodes if (mark := marks.get(n.id)) is not None and not mark.root
              and mark.fanout_tasks}
    group = {node_id: node_id for node_id in inside}

    def find(node_id: str) -> str:
        while group[node_id] != node_id:
            group[node_id] = group[group[node_id]]
            node_id = group[node_id]
        return node_id

    for edge in graph.edges:
        if edge.source in inside and edge.target in inside:
            group[find(edge.source)] = find(edge.target)
    members: dict[str, list[str]] = defaultdict(list)
    for node in graph.nodes:
        if node.id in inside:
            members[find(node.id)].append(node.id)
    frames, captions = [], []
    pad = 10
    for nodes in members.values():
        xs = [at[n][0] for n in nodes]
        ys = [at[n][1] for n in nodes]
        tasks = max(marks[n].fanout_tasks for n in nodes)
        left, top = min(xs) - pad, min(ys) - pad - 12
        frames.append(f'<rect class="fanout" x="{left}" y="{top}" width="{max(xs) - min(xs) + NODE_W + 2 * pad}" '
                      f'height="{max(ys) - min(ys) + NODE_H + 2 * pad + 12}" rx="10"/>')
        captions.append(f'<text class="fanout-caption" x="{left + 8}" y="{top + 13}">fan-out · {tasks} task(s)</text>')
    return frames, captions


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
