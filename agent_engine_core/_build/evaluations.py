"""evaluations.yaml at build: every node, tool and schema a case names must exist, or the load fails there.

A case that names a node the workflow does not have would otherwise fail at ``agent-engine eval`` time as an
assertion ("decision 'pikc' never routed") that looks like a regression of the workflow; it is a typo of the
case, and is reported as one, located in evaluations.yaml, with every other problem of the project.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from agent_engine_core.manifests._hints import did_you_mean

if TYPE_CHECKING:
    from agent_engine_core.errors import ManifestIssue
    from agent_engine_core.manifests.evaluations import EvaluationCase
    from agent_engine_core.manifests.loader import Project, Source

__all__ = ["evaluation_issues"]


def evaluation_issues(
    project: Project, roles: Mapping[str, str] | None, tools: Collection[str], issues: list[ManifestIssue]
) -> None:
    """Add an issue for each reference of evaluations.yaml to a node, tool or schema the project lacks.

    ``roles`` maps each node id to its role (``None`` when the workflow is too broken to know its nodes: node
    references are then not checked, the workflow's own issues say what is wrong).
    """
    manifest = project.evaluations
    if manifest is None:
        return
    source = project.source("evaluations")
    for case, where in manifest.case_paths():
        _check_case(case, where, source, project, roles, tools, issues)


def _check_case(
    case: EvaluationCase, where: list[str | int], source: Source, project: Project,
    roles: Mapping[str, str] | None, tools: Collection[str], issues: list[ManifestIssue],
) -> None:
    def refer(name: str, known: Collection[str], what: str, path: list[str | int], *, role: str | None = None) -> None:
        if name in known and (role is None or roles is None or roles.get(name) == role):
            return
        if name in known:
            message = f"case '{case.id}' names {what} '{name}', which is a {roles[name] if roles else '?'} node"
            hint = f"name a {role} node"
        else:
            message = f"case '{case.id}' names {what} '{name}', which the project does not have"
            hint = did_you_mean(name, known) or f"use one of: {', '.join(sorted(known)) or 'none'}"
        issues.append(source.issue(message, [*where, *path], code="evaluations.unknown_reference", hint=hint))

    nodes = roles.keys() if roles is not None else None
    if case.start is not None and nodes is not None:
        refer(case.start, nodes, "start node", ["start"], role="start")
    for a, assertion in enumerate(case.assertions):
        at: list[str | int] = ["assertions", a]
        if assertion.type == "decision" and nodes is not None:
            refer(assertion.node, nodes, "decision node", [*at, "node"], role="decision")
        elif assertion.type == "tool_called":
            refer(assertion.tool, tools, "tool", [*at, "tool"])
            if assertion.node is not None and nodes is not None:
                refer(assertion.node, nodes, "node", [*at, "node"])
        elif assertion.type == "path_taken" and nodes is not None:
            for n, node in enumerate(assertion.expected):
                refer(node, nodes, "node", [*at, "expected", n])
        elif assertion.type == "schema_valid":
            refer(assertion.schema_, project.schemas.keys(), "schema", [*at, "schema"])
