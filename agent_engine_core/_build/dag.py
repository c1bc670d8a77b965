"""Build the immutable DAG from a validated workflow manifest and check every structural rule.

``build_dag`` runs pure passes: index nodes and edges → check per-node rules → check degrees and labels →
order topologically (Kahn) → check reachability → analyse fan-out depths. Each pass is linear in nodes +
edges and blames the nodes or edges it finds at fault; every issue is collected, none stops the others
except where a later pass needs an earlier one's result (no ordering without acyclicity). A workflow some of
whose nodes or edges failed field validation is still checked in its well-formed parts (``WorkflowParts``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from agent_engine_core.manifests._hints import did_you_mean
from agent_engine_core.manifests._parts import WorkflowParts
from agent_engine_core.manifests._role import Role

if TYPE_CHECKING:
    from agent_engine_core.errors import ManifestIssue
    from agent_engine_core.manifests.loader import Source
    from agent_engine_core.manifests.models import EdgeSpec, NodeSpec, WorkflowManifest

__all__ = ["Dag", "DagNode", "Edge", "References", "Role", "WorkflowParts", "build_dag"]

FAN_OUT = frozenset({Role.BRANCH, Role.SPLIT})


@dataclass(frozen=True, slots=True)
class Edge:
    """An out-edge; ``index`` is its position among its source's out-edges (clone/subtask order)."""

    source: str
    target: str
    label: str | None
    index: int


@dataclass(frozen=True, slots=True)
class DagNode:
    """A node with its resolved edges and analysis results.

    ``merge_out_depth`` (merge nodes only) is how many fan-outs still enclose a task leaving the merge; a
    parent whose own depth is greater after the merge fires arrives at the same merge again, which is how
    nested fan-outs that share one merge node merge innermost first.
    """

    id: str
    """The node id (``spec.id``, kept as a field: the router reads it several times per stage)."""
    spec: NodeSpec
    role: Role
    out_edges: tuple[Edge, ...]
    in_degree: int
    merge_out_depth: int = 0

    @property
    def is_agent(self) -> bool:
        """True for ``kind: agent``."""
        return self.spec.kind == "agent"

    def target_of(self, label: str) -> str | None:
        """The target of the out-edge labelled ``label`` (decision routing)."""
        for edge in self.out_edges:
            if edge.label == label:
                return edge.target
        return None

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels of the out-edges, in edge order."""
        return tuple(e.label for e in self.out_edges if e.label is not None)


@dataclass(frozen=True, slots=True)
class Dag:
    """The immutable, validated workflow graph."""

    nodes: Mapping[str, DagNode]
    order: tuple[str, ...]
    starts: tuple[str, ...]
    default_start: str
    depths: Mapping[str, frozenset[int]]

    def start_node(self, name: str | None) -> str:
        """The start node to use: ``name`` if given (it must be a start node), else the default."""
        if name is None:
            return self.default_start
        if name not in self.starts:
            raise KeyError(name)
        return name


@dataclass(frozen=True, slots=True)
class References:
    """The ids a workflow may refer to, resolved by the caller from the other manifests and registries."""

    agents: Collection[str] = ()
    schemas: Collection[str] = ()
    context_profiles: Collection[str] = ("none",)
    tools: Collection[str] = ()


_DEGREE = {
    Role.START: ((0, 0), (1, 1)),
    Role.LINEAR: ((1, 1), (1, 1)),
    Role.DECISION: ((1, 1), (2, None)),
    Role.BRANCH: ((1, 1), (2, None)),
    Role.SPLIT: ((1, 1), (1, None)),
    Role.MERGE: ((1, None), (1, 1)),
    Role.EXIT: ((1, None), (0, 0)),
}


class _Checker:
    """Collects issues with their locations in workflow.yaml."""

    def __init__(self, source: Source, positions: Mapping[str, int]) -> None:
        self.source = source
        self.positions = positions
        self.edge_positions: dict[tuple[str, str], int] = {}
        """Index in ``edges:`` of each accepted edge, so that passes over ``Edge`` objects can locate them."""
        self.issues: list[ManifestIssue] = []

    def node(
        self, node_id: str, field: str | Sequence[str | int] | None, code: str, message: str, hint: str | None = None
    ) -> None:
        """An issue blamed on a node, located at ``field`` (a name or a path below the node) when given."""
        path: list[str | int] = ["nodes", self.positions[node_id]]
        if isinstance(field, str):
            path.append(field)
        elif field:
            path.extend(field)
        self.issues.append(self.source.issue(message, path, code=code, hint=hint, node_id=node_id))

    def edge(
        self, position: int, edge_id: str, field: str, code: str, message: str, *, hint: str | None = None,
        node_id: str | None = None,
    ) -> None:
        """An issue blamed on the edge at ``position`` (and on ``node_id`` when a node's rule is broken there)."""
        self.issues.append(
            self.source.issue(message, ["edges", position, field], code=code, hint=hint, node_id=node_id,
                              edge_id=edge_id)
        )


def build_dag(
    workflow: WorkflowManifest | WorkflowParts, refs: References, *, source: Source
) -> tuple[Dag | None, list[ManifestIssue]]:
    """Check ``workflow`` against every structural rule of SPEC §3.1 and build the immutable DAG.

    Checks, each blaming the nodes or edges at fault:
      - node ids are unique; every edge's ``from``/``to`` names a node; no edge is declared twice;
      - agent nodes name an ``agent_id`` that agents.yaml defines and have no ``handler``; deterministic nodes
        have no ``agent_id``; a deterministic decision has a handler (there is no default decision);
      - start and exit nodes are deterministic; exits have no tools; ``default_start`` only on start nodes,
        ``always_fail`` only on exits, ``merge:`` only on merges;
      - in/out degree per role; every out-edge of a decision is labelled, labels unique;
      - merges have ≥2 in-edges, or ≥1 when a split lies upstream;
      - ``schema_in``/``schema_out`` stems, ``context`` profiles and ``tools`` resolve;
      - at least one start node, and exactly one ``default_start`` when there are several;
      - the graph is acyclic (the cycle is named); every node is reachable from a start node; every start
        node reaches an exit.

    Returns the DAG (``None`` when any issue was found, and for incomplete ``WorkflowParts``) and the issues.
    """
    parts = workflow if isinstance(workflow, WorkflowParts) else WorkflowParts.of(workflow)
    positions: dict[str, int] = {}
    duplicate_ids: list[tuple[int, str]] = []
    for position, node_id in enumerate(parts.ids):
        if node_id is None:
            continue
        if node_id in positions:
            duplicate_ids.append((position, node_id))
        else:
            positions[node_id] = position
    check = _Checker(source, positions)
    for position, node_id in duplicate_ids:
        check.issues.append(
            source.issue(f"node id '{node_id}' is used by more than one node", ["nodes", position, "id"],
                         code="dag.duplicate_id", hint="give every node a unique id", node_id=node_id)
        )
    # The first node of a duplicated id is the one checked (the one ``positions`` locates); later ones are only
    # reported, so a rule broken by the duplicate is never blamed on the line of the original.
    nodes = parts.nodes
    specs = {node_id: spec for node_id, position in positions.items() if (spec := nodes[position]) is not None}
    out_edges, in_degree = _index_edges(parts, specs, positions, check)
    for node_id, spec in specs.items():
        role = spec.role
        _check_node(spec, role, refs, check)
        if parts.complete:
            _check_degree(spec, role, len(out_edges[node_id]), in_degree[node_id], check)
            if role is Role.DECISION:
                _check_labels(spec, out_edges[node_id], check)
    if not parts.complete:
        return None, check.issues
    starts = [s.id for s in specs.values() if s.role == "start"]
    default_start = _default_start(specs, starts, check)
    order = _topological_order(specs, out_edges, in_degree, check)
    if order is None:
        return None, check.issues
    _check_reachability(specs, out_edges, order, starts, check)
    _check_merge_upstream(specs, out_edges, order, in_degree, check)
    depths = _fan_out_depths(specs, out_edges, order, starts)
    if check.issues or default_start is None:
        return None, check.issues
    dag_nodes = {
        node_id: DagNode(
            id=node_id,
            spec=specs[node_id],
            role=specs[node_id].role,
            out_edges=tuple(out_edges[node_id]),
            in_degree=in_degree[node_id],
            merge_out_depth=_merge_out_depth(depths[node_id]),
        )
        for node_id in order
    }
    dag = Dag(
        nodes=MappingProxyType(dag_nodes),
        order=tuple(order),
        starts=tuple(starts),
        default_start=default_start,
        depths=MappingProxyType(depths),
    )
    return dag, []


def _index_edges(
    parts: WorkflowParts, specs: Mapping[str, NodeSpec], known: Mapping[str, int], check: _Checker
) -> tuple[dict[str, list[Edge]], dict[str, int]]:
    """Out-edges and in-degrees of the well-formed nodes; ``known`` holds every node id written, well formed or not.

    An edge into or out of a node with a field error is checked for references and duplicates only.
    """
    out_edges: dict[str, list[Edge]] = {node_id: [] for node_id in specs}
    in_degree = dict.fromkeys(specs, 0)
    accepted = check.edge_positions
    unnamed = not parts.complete and None in parts.ids  # a reference may name a node whose id is malformed
    for position, spec in enumerate(parts.edges):
        if spec is None:
            continue
        source, target = spec.source, spec.to
        if source not in known or target not in known:
            for field, ref in (("from", source), ("to", target)):
                if ref not in known and not unnamed:
                    check.edge(
                        position, spec.edge_id, field, "dag.unknown_node",
                        f"'{field}: {ref}' names no node",
                        hint=did_you_mean(ref, known) or "declare the node under nodes:",
                    )
            continue
        if (source, target) in accepted:
            check.edge(
                position, spec.edge_id, "to", "dag.duplicate_edge",
                f"edge {spec.edge_id} is declared more than once", hint="remove the duplicate edge",
            )
            continue
        accepted[source, target] = position
        if source not in specs or target not in specs:
            continue
        edges = out_edges[source]
        edges.append(Edge(source, target, spec.label, len(edges)))
        in_degree[target] += 1
    return out_edges, in_degree


def _check_node(spec: NodeSpec, role: Role, refs: References, check: _Checker) -> None:
    if spec.kind == "agent":
        if spec.agent_id is None:
            check.node(spec.id, "kind", "dag.agent_missing", "agent node has no agent_id",
                       "add agent_id: <an id from agents.yaml>")
        elif spec.agent_id not in refs.agents:
            check.node(spec.id, "agent_id", "dag.unknown_agent", f"agent '{spec.agent_id}' is not defined",
                       did_you_mean(spec.agent_id, refs.agents) or "define it in agents.yaml")
        if spec.handler is not None:
            check.node(spec.id, "handler", "dag.kind_field", "agent nodes take no handler",
                       "remove handler, or make the node kind: deterministic")
        if role in (Role.START, Role.EXIT):
            check.node(spec.id, "kind", "dag.role_kind", f"{role} nodes must be deterministic",
                       "put the agent on a node between start and exit")
    elif spec.agent_id is not None:
        check.node(spec.id, "agent_id", "dag.kind_field", "deterministic nodes take no agent_id",
                   "add kind: agent, or remove agent_id")
    if role is Role.DECISION and spec.kind == "deterministic" and spec.handler is None:
        check.node(spec.id, "role", "dag.decision_handler", "a deterministic decision node needs a handler",
                   'add handler: "module:function" returning an edge label')
    if spec.default_start and role is not Role.START:
        check.node(spec.id, "default_start", "dag.role_field", "default_start is only for start nodes",
                   "remove default_start, or make the node role: start")
    if spec.always_fail and role is not Role.EXIT:
        check.node(spec.id, "always_fail", "dag.role_field", "always_fail is only for exit nodes",
                   "remove always_fail, or route to an exit node that has it")
    if spec.merge is not None and role is not Role.MERGE:
        check.node(spec.id, "merge", "dag.role_field", "merge options are only for merge nodes",
                   "remove merge:, or make the node role: merge")
    if role is Role.EXIT and spec.tools:
        check.node(spec.id, "tools", "dag.role_field", "exit nodes are read-only and take no tools",
                   "remove tools; give them to the node before the exit")
    _check_references(spec, refs, check)


def _check_references(spec: NodeSpec, refs: References, check: _Checker) -> None:
    for field in ("schema_in", "schema_out"):
        ref = getattr(spec, field)
        if isinstance(ref, str) and ref not in refs.schemas:
            check.node(spec.id, field, "dag.unknown_schema", f"schema '{ref}' does not exist",
                       did_you_mean(ref, refs.schemas) or f"add schemas/{ref}.json")
    if spec.context not in refs.context_profiles:
        check.node(spec.id, "context", "dag.unknown_context", f"context profile '{spec.context}' does not exist",
                   did_you_mean(spec.context, refs.context_profiles) or "use 'none' or a profile from memory.yaml")
    for index, tool in enumerate(spec.tools):
        if tool not in refs.tools:
            check.node(spec.id, ("tools", index), "dag.unknown_tool", f"tool '{tool}' is not declared",
                       did_you_mean(tool, refs.tools) or "declare it in tools.yaml")


def _check_degree(spec: NodeSpec, role: Role, out_count: int, in_count: int, check: _Checker) -> None:
    (in_min, in_max), (out_min, out_max) = _DEGREE[role]
    for direction, count, low, high in (("in", in_count, in_min, in_max), ("out", out_count, out_min, out_max)):
        if count < low or (high is not None and count > high):
            want = f"exactly {low}" if low == high else f"at least {low}"
            check.node(spec.id, "role", "dag.degree",
                       f"{role} node has {count} {direction}-edge{'s' if count != 1 else ''}, needs {want}",
                       _degree_hint(role, direction))


def _degree_hint(role: Role, direction: str) -> str:
    if role is Role.LINEAR:
        return "use a branch/split to fan out, a merge to join, or a decision to choose"
    if role in (Role.BRANCH, Role.DECISION) and direction == "out":
        return "use role: linear for a single successor"
    return "fix the edges or the role"


def _check_labels(spec: NodeSpec, edges: Sequence[Edge], check: _Checker) -> None:
    """Every out-edge of a decision is labelled, labels unique; blamed on the edge, where the fix goes."""
    seen: set[str] = set()
    for edge in edges:
        position = check.edge_positions[edge.source, edge.target]
        edge_id = f"{edge.source}->{edge.target}"
        if edge.label is None:
            check.edge(position, edge_id, "label", "dag.decision_label",
                       f"edge {edge_id} leaves decision node '{spec.id}' without a label",
                       hint="add label: <name> to the edge", node_id=spec.id)
        elif edge.label in seen:
            check.edge(position, edge_id, "label", "dag.decision_label",
                       f"label '{edge.label}' is used by more than one edge of decision node '{spec.id}'",
                       hint="labels must be unique per decision", node_id=spec.id)
        else:
            seen.add(edge.label)


def _default_start(specs: Mapping[str, NodeSpec], starts: Sequence[str], check: _Checker) -> str | None:
    if not starts:
        first = next(iter(specs), None)
        if first is not None:
            check.node(first, None, "dag.no_start", "the workflow has no start node",
                       "give one node role: start")
        return None
    if len(starts) == 1:
        return starts[0]
    marked = [s for s in starts if specs[s].default_start]
    if len(marked) != 1:
        for s in starts if not marked else marked:
            check.node(s, "default_start", "dag.default_start",
                       f"{len(starts)} start nodes need exactly one default_start: true, found {len(marked)}",
                       "mark one start node with default_start: true")
        return None
    return marked[0]


def _topological_order(
    specs: Mapping[str, NodeSpec], out_edges: Mapping[str, Sequence[Edge]], in_degree: Mapping[str, int],
    check: _Checker,
) -> list[str] | None:
    remaining = dict(in_degree)
    ready = deque(node_id for node_id in specs if remaining[node_id] == 0)
    order: list[str] = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for edge in out_edges[node_id]:
            remaining[edge.target] -= 1
            if remaining[edge.target] == 0:
                ready.append(edge.target)
    if len(order) == len(specs):
        return order
    cycle = _find_cycle({n for n, d in remaining.items() if d > 0}, out_edges)
    check.node(cycle[0], None, "dag.cycle", "the graph has a cycle: " + " -> ".join([*cycle, cycle[0]]),
               "workflows are acyclic; remove one edge of the cycle")
    return None


def _find_cycle(candidates: set[str], out_edges: Mapping[str, Sequence[Edge]]) -> list[str]:
    """A cycle among ``candidates`` (the nodes Kahn could not order), starting at its smallest node id.

    Not every candidate leads into a cycle (an exit below one does not), but every candidate has a predecessor
    among the candidates, so walking backwards from any of them must come round to a node already seen.
    """
    predecessors: dict[str, list[str]] = {node_id: [] for node_id in candidates}
    for node_id in sorted(candidates):
        for edge in out_edges[node_id]:
            if edge.target in candidates:
                predecessors[edge.target].append(node_id)
    seen: dict[str, int] = {}
    path: list[str] = []
    node = min(candidates)
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = predecessors[node][0]
    cycle = path[seen[node]:][::-1]
    first = cycle.index(min(cycle))
    return cycle[first:] + cycle[:first]


def _check_reachability(
    specs: Mapping[str, NodeSpec], out_edges: Mapping[str, Sequence[Edge]], order: Sequence[str],
    starts: Sequence[str], check: _Checker,
) -> None:
    """Every node is reached from a start, every start reaches an exit: one pass each way over ``order``.

    In topological order a node's predecessors all come before it, so a forward pass settles what the starts
    reach and a backward pass what reaches an exit, with no search queue.
    """
    reachable = set(starts)
    for node_id in order:
        if node_id in reachable:
            for edge in out_edges[node_id]:
                reachable.add(edge.target)
    for node_id, spec in specs.items():
        if node_id not in reachable and spec.role != "start":
            check.node(node_id, None, "dag.unreachable", "no start node reaches this node",
                       "add an edge into it or remove it")
    reaches_exit: set[str] = set()
    for node_id in reversed(order):
        if specs[node_id].role == "exit":
            reaches_exit.add(node_id)
            continue
        for edge in out_edges[node_id]:
            if edge.target in reaches_exit:
                reaches_exit.add(node_id)
                break
    for start in starts:
        if start not in reaches_exit:
            check.node(start, None, "dag.dead_end", "this start node reaches no exit node",
                       "every path must end at a node with role: exit")


def _check_merge_upstream(
    specs: Mapping[str, NodeSpec], out_edges: Mapping[str, Sequence[Edge]], order: Sequence[str],
    in_degree: Mapping[str, int], check: _Checker,
) -> None:
    split_upstream = dict.fromkeys(specs, False)
    for node_id in order:
        below = split_upstream[node_id] or specs[node_id].role == "split"
        for edge in out_edges[node_id]:
            split_upstream[edge.target] = split_upstream[edge.target] or below
    for node_id, spec in specs.items():
        if spec.role == "merge" and in_degree[node_id] == 1 and not split_upstream[node_id]:
            check.node(node_id, "role", "dag.degree",
                       "merge node has 1 in-edge and no split upstream; it needs at least 2",
                       "a single in-edge is only allowed for the subtasks of a split (map-reduce)")


def _fan_out_depths(
    specs: Mapping[str, NodeSpec], out_edges: Mapping[str, Sequence[Edge]], order: Sequence[str],
    starts: Sequence[str],
) -> dict[str, frozenset[int]]:
    """For every node, the numbers of unmerged fan-outs that can enclose a task reaching it.

    The sets are immutable and handed on as they are until a fan-out, a merge or a join changes them, so the
    nodes of a run share one set instead of each allocating its own.
    """
    depths: dict[str, frozenset[int]] = dict.fromkeys(specs, frozenset())
    for start in starts:
        depths[start] = frozenset({0})
    for node_id in order:
        here = depths[node_id]
        role = specs[node_id].role
        if role in ("branch", "split"):
            leaving = frozenset(d + 1 for d in here)
        elif role == "merge":
            leaving = frozenset({_merge_out_depth(here)})
        else:
            leaving = here
        for edge in out_edges[node_id]:
            reached = depths[edge.target]
            if not leaving <= reached:
                depths[edge.target] = (reached | leaving) if reached else leaving
    return depths


def _merge_out_depth(depths: frozenset[int]) -> int:
    return max(min(depths) - 1, 0) if depths else 0


def blame_node(parts: WorkflowParts, source: Source) -> Callable[..., ManifestIssue]:
    """A factory of issues located at a node's field, for passes outside this module (handlers, agents)."""
    positions: dict[str, int] = {}
    for position, node_id in enumerate(parts.ids):
        if node_id is not None:
            positions.setdefault(node_id, position)

    def issue(node_id: str, field: str, code: str, message: str, hint: str | None = None) -> ManifestIssue:
        return source.issue(message, ["nodes", positions[node_id], field], code=code, hint=hint, node_id=node_id)

    return issue
