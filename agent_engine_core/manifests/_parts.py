"""A workflow as the loader hands it to the build: whole, or the nodes and edges that validated on their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent_engine_core.manifests.models import EdgeSpec, NodeSpec, WorkflowManifest

__all__ = ["WorkflowParts"]


@dataclass(frozen=True, slots=True)
class WorkflowParts:
    """A workflow's nodes and edges at their places in workflow.yaml, ``None`` where one failed field validation.

    ``ids`` is the id each node is written with (a string, also for most nodes that failed), so that a node
    with a field error still counts for duplicate ids and edge references. Incomplete parts get every check
    that does not need the whole graph: duplicate ids and edges, edge references, the per-node rules and
    references; degrees, labels, start nodes, cycles and reachability wait until every part is well formed.
    """

    nodes: Sequence[NodeSpec | None]
    edges: Sequence[EdgeSpec | None]
    ids: Sequence[str | None]
    complete: bool

    @classmethod
    def of(cls, workflow: WorkflowManifest) -> WorkflowParts:
        """The parts of a workflow that validated as a whole."""
        return cls(workflow.nodes, workflow.edges, tuple(spec.id for spec in workflow.nodes), complete=True)

    @property
    def well_formed_nodes(self) -> list[NodeSpec]:
        """The nodes that validated, in file order."""
        return [spec for spec in self.nodes if spec is not None]
