"""What the pages show, computed from the inspector's read-only views: no template reaches into a stored document.

A run's graph is the project's workflow as it is now; a node the run visited that the workflow no longer has is
drawn too (unconnected), so an old run stays readable after the manifests changed. Values are pretty JSON,
collapsed past ``COLLAPSE_CHARS`` and, on the server, fetched in full only when opened.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent_engine_core.inspector import RunView, StageDifference
from agent_engine_core.manifests.models import WorkflowManifest

from agent_engine_ui.dag import Graph, GraphEdge, GraphNode, NodeMark, render_svg

__all__ = ["COLLAPSE_CHARS", "Value", "at_pointer", "difference_rows", "difference_sides", "graph_of", "pretty",
           "run_page", "stage_panels", "when"]

COLLAPSE_CHARS = 2000
"""A value whose pretty JSON is longer than this is shown collapsed, with its first ``PREVIEW_CHARS``."""
PREVIEW_CHARS = 240
_STATUS_RANK = {"failure": 3, "partial": 2, "success": 1}


@dataclass(frozen=True, slots=True)
class Value:
    """A JSON value as a page shows it: its pretty text, or (collapsed) a preview and where to fetch the rest."""

    text: str
    size: int
    pointer: str
    """Its JSON pointer within the stage record (``/agent_calls/0/reply``): how the page asks for all of it."""

    @property
    def collapsed(self) -> bool:
        """Whether the page shows only a preview until the value is opened."""
        return self.size > COLLAPSE_CHARS

    @property
    def preview(self) -> str:
        """The first characters of the pretty text."""
        return self.text[:PREVIEW_CHARS]


def pretty(value: Any) -> str:
    """Pretty JSON as people read it (non-ASCII kept, keys in their stored order)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def value(record: Mapping[str, Any], pointer: str) -> Value:
    """The value at ``pointer`` of a stage record, ready for a page."""
    text = pretty(at_pointer(record, pointer))
    return Value(text, len(text), pointer)


def at_pointer(document: Any, pointer: str) -> Any:
    """The value a JSON pointer (RFC 6901) names; ``KeyError`` naming the pointer when there is none."""
    current = document
    for raw in pointer.split("/")[1:] if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        try:
            current = current[int(token)] if isinstance(current, list) else current[token]
        except (KeyError, IndexError, ValueError, TypeError):
            raise KeyError(pointer) from None
    return current


def when(timestamp: float) -> str:
    """A moment as UTC text, to the second."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def graph_of(workflow: WorkflowManifest | None, visited: Sequence[str]) -> Graph:
    """The workflow's graph, plus a bare node for each visited id the workflow does not have (or has no more)."""
    nodes = [] if workflow is None else [GraphNode(n.id, str(n.role), n.kind == "agent") for n in workflow.nodes]
    edges = [] if workflow is None else [GraphEdge(e.source, e.to, e.label) for e in workflow.edges]
    known = {node.id for node in nodes}
    nodes.extend(GraphNode(node_id, "unknown") for node_id in dict.fromkeys(visited) if node_id not in known)
    return Graph(tuple(nodes), tuple(edges))


def _marks(records: Sequence[Mapping[str, Any]], run_id: str) -> dict[str, NodeMark]:
    by_node: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        by_node[record["node_id"]].append(record)
    marks = {}
    for node_id, stages in by_node.items():
        status = max((str(s["status"]) for s in stages), key=lambda s: _STATUS_RANK.get(s, 0))
        fanout = len({s["task_id"] for s in stages if s["task_id"] != run_id})
        marks[node_id] = NodeMark(status, len(stages), fanout, any(s["task_id"] == run_id for s in stages))
    return marks


def _taken(records: Sequence[Mapping[str, Any]], graph: Graph) -> set[tuple[str, str]]:
    """The edges a run followed: a stage's route names its next nodes (or, for a decision, edge labels)."""
    by_label = {(e.source, e.label): e.target for e in graph.edges if e.label}
    taken = set()
    for record in records:
        for step in record["route"] or ():
            taken.add((record["node_id"], by_label.get((record["node_id"], step), step)))
    return taken


def run_page(view: RunView, workflow: WorkflowManifest | None) -> dict[str, Any]:
    """The run page's context: summary, result, tasks, the coloured graph as SVG."""
    records = view.trace.to_dict()["records"]
    run_id = view.summary.run_id
    graph = graph_of(workflow, [r["node_id"] for r in records])
    tasks = view.tasks()
    return {
        "summary": view.summary, "result": view.result, "origin": view.origin, "tasks": tasks,
        "started": when(view.summary.started_at), "svg": render_svg(graph, _marks(records, run_id),
                                                                    _taken(records, graph)),
        "nodes": len(graph.nodes), "error": view.result.get("error"),
        "output": value({"output": view.result.get("output")}, "/output"),
    }


_VALUES = ("input", "output")


def stage_panels(view: RunView, node_id: str) -> list[dict[str, Any]]:
    """Every stage of ``node_id`` in the run (one per task that ran it), each with its values and calls."""
    records = [r for r in view.trace.to_dict()["records"] if r["node_id"] == node_id]
    return [_panel(record, view.summary.run_id) for record in records]


def _panel(record: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    agent_calls = [{
        "provider": call["provider"], "model": call["model"], "usage": call["usage"], "error": call["error"],
        "latency_s": call["latency_s"], "attempts": len(call["attempts"]),
        "request": value(record, f"/agent_calls/{index}/request"),
        "reply": value(record, f"/agent_calls/{index}/reply"),
    } for index, call in enumerate(record["agent_calls"])]
    tool_calls = [{
        "tool_id": call["tool_id"], "status": call["status"], "error": call["error"],
        "arguments": value(record, f"/tool_calls/{index}/arguments"),
        "output": value(record, f"/tool_calls/{index}/output"),
    } for index, call in enumerate(record["tool_calls"])]
    return {
        "record": record, "task_id": record["task_id"], "root": record["task_id"] == run_id,
        "values": {name: value(record, f"/{name}") for name in _VALUES},
        "context": value(record, "/context") if record.get("context") else None,
        "agent_calls": agent_calls, "tool_calls": tool_calls, "error": record["error"],
        "error_details": value(record, "/error/details") if (record["error"] or {}).get("details") else None,
        "approvals": record.get("approvals") or [],
    }


def difference_sides(difference: StageDifference, left: str, right: str) -> list[dict[str, Any]]:
    """Each side of a difference: its run, and the stage (node, task in that run) or task outcome it is at."""
    sides = []
    for run_id, line in ((left, difference.left), (right, difference.right)):
        task = str((line or {}).get("task", "")).replace("RUN", run_id, 1) if line else None
        sides.append({"run_id": run_id, "node": (line or {}).get("node"), "task": task, "present": line is not None})
    return sides


def difference_rows(difference: StageDifference) -> list[dict[str, Any]]:
    """The fields where two runs' first differing stages part, each side's value pretty."""
    left, right = difference.left or {}, difference.right or {}
    return [{"field": field, "left": pretty(left.get(field)) if field in left else None,
             "right": pretty(right.get(field)) if field in right else None} for field in difference.fields]
