"""Assemble a runnable engine from a loaded project: DAG, handlers, validators, agents, settings.

Every pass adds located issues to one list; the build fails with all of them together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from agent_engine_core._stage import AgentBinding, Plan
from agent_engine_core._version import __version__
from agent_engine_core.components import Components, distribution_hint
from agent_engine_core.dag import Dag, References, Role, blame_node, build_dag
from agent_engine_core.errors import ManifestError, ManifestIssue, ProviderError
from agent_engine_core.handlers import HandlerError, resolve_handler
from agent_engine_core.manifests.loader import Project
from agent_engine_core.manifests.models import AgentSpec, NodeSpec, WorkflowManifest
from agent_engine_core.schemas import SchemaSet, schema_problem

__all__ = ["Built", "build"]


@dataclass(frozen=True, slots=True)
class Built:
    """What an engine runs with."""

    dag: Dag
    plans: Mapping[str, Plan]
    fanout_concurrency: int
    inline_fast_handlers: bool
    metadata: Mapping[str, Any]


def build(
    project: Project, components: Components, handlers: Mapping[str, Callable[..., Any]],
    issues: Sequence[ManifestIssue] = (),
) -> Built:
    """Build the engine's runtime parts from ``project``; raises ``ManifestError`` with every issue.

    ``issues`` are problems found before the build (plugin configuration) to report together with its own.
    """
    issues = [*project.issues, *issues]
    workflow = project.workflow
    if workflow is None:
        raise ManifestError(_in_file_order(issues))
    source = project.source("workflow")
    issue_at = blame_node(workflow, source.locate, source.file)
    for spec in workflow.nodes:
        if spec.context == "global":
            issues.append(issue_at(spec.id, "context", "feature.unsupported",
                                   "context assembly (memory) is not implemented in this version",
                                   "use context: none"))
    refs = References(
        agents={a.id for a in project.agents.agents},
        schemas=set(project.schemas),
        context_profiles=("none", "global"),
        tools=(),
    )
    if any(s.kind == "agent" for s in workflow.nodes) and "agents" not in project.sources:
        issues.append(ManifestIssue("the workflow has agent nodes but agents.yaml is missing",
                                    file=project.source("agents").file, code="manifest.missing_file",
                                    hint="define the agents in agents.yaml"))
    dag, dag_issues = build_dag(workflow, refs, file=source.file, locate=source.locate)
    issues.extend(dag_issues)
    schemas = SchemaSet(project.schemas)
    agents = _bind_agents(project, workflow, components, issues)
    plans: dict[str, Plan] = {}
    for spec in workflow.nodes:
        handler = None
        if spec.handler is not None:
            try:
                handler = resolve_handler(spec.handler, base_dir=project.base_dir, handlers=handlers)
            except HandlerError as exc:
                issues.append(issue_at(spec.id, "handler", "dag.handler_import", str(exc), exc.hint))
        if dag is not None and spec.id in dag.nodes:
            node = dag.nodes[spec.id]
            plans[spec.id] = Plan(
                node=node, handler=handler,
                schema_in=_validator(schemas, spec, "schema_in", issue_at, issues),
                schema_out=_validator(schemas, spec, "schema_out", issue_at, issues),
                agent=_agent_binding(agents, spec, node.labels, project) if node.is_agent else None,
            )
    scheduler = project.scheduler.scheduler
    if scheduler.executor != "local":
        issues.append(ManifestIssue(
            f"executor '{scheduler.executor}' is not registered", file=project.source("scheduler").file,
            line=project.source("scheduler").locate(["scheduler", "executor"])[0],
            hint=distribution_hint("executor", scheduler.executor), code="manifest.unknown_component",
        ))
    if issues or dag is None:
        raise ManifestError(_in_file_order(issues))
    return Built(dag, MappingProxyType(plans), scheduler.fanout_concurrency, scheduler.inline_fast_handlers,
                 _metadata(project, agents))


def _in_file_order(issues: list[ManifestIssue]) -> list[ManifestIssue]:
    """Issues by file, then line and column, as an editor lists them; the passes find them in another order.

    Issues without a line come first in their file (they concern the file as a whole); the sort is stable, so
    issues at the same place keep the order of the passes that found them.
    """
    return sorted(issues, key=lambda i: (i.file or "", i.line or 0, i.column or 0))


def _validator(
    schemas: SchemaSet, spec: NodeSpec, field: str, issue_at: Callable[..., ManifestIssue],
    issues: list[ManifestIssue],
) -> Any:
    ref = getattr(spec, field)
    if ref is None:
        return None
    if isinstance(ref, dict):
        problem = schema_problem(ref)
        if problem is not None:
            issues.append(issue_at(spec.id, field, "schema.invalid", f"inline schema: {problem}"))
            return None
    return schemas.validator(ref)


def _bind_agents(
    project: Project, workflow: WorkflowManifest, components: Components, issues: list[ManifestIssue]
) -> dict[str, tuple[AgentSpec, Any, str]]:
    """Build one provider per agent that some node uses; report unknown providers and unanswerable nodes."""
    source = project.source("agents")
    users: dict[str, list[str]] = {}
    for spec in workflow.nodes:
        if spec.kind == "agent" and spec.agent_id is not None:
            users.setdefault(spec.agent_id, []).append(spec.id)
    bound: dict[str, tuple[AgentSpec, Any, str]] = {}
    for position, agent in enumerate(project.agents.agents):
        if agent.id not in users:
            continue
        provider_name = agent.llm.partition("/")[0]
        line, column = source.locate(["agents", position, "llm"])
        registration = components.llm_providers.get(provider_name)
        if registration is None:
            issues.append(ManifestIssue(
                f"agent '{agent.id}' uses LLM provider '{provider_name}', which is not installed",
                file=source.file, line=line, column=column,
                hint=distribution_hint("llm_provider", provider_name), code="agents.unknown_provider",
            ))
            continue
        try:
            provider = registration.factory(agent)
        except ProviderError as exc:
            issues.append(ManifestIssue(str(exc), file=source.file, line=line, column=column,
                                        code="agents.provider_config"))
            continue
        config_line, config_column = source.locate(["agents", position, "config"])
        for problem in provider.check(users[agent.id]):
            issues.append(ManifestIssue(f"agent '{agent.id}': {problem}", file=source.file, line=config_line,
                                        column=config_column, code="agents.provider_config"))
        bound[agent.id] = (agent, provider, registration.distribution)
    return bound


def _agent_binding(
    agents: Mapping[str, tuple[AgentSpec, Any, str]], spec: NodeSpec, labels: tuple[str, ...], project: Project
) -> AgentBinding | None:
    found = agents.get(spec.agent_id or "")
    if found is None:
        return None
    agent, provider, _ = found
    provider_name, _, model = agent.llm.partition("/")
    schema: Any = spec.schema_out
    if isinstance(schema, str):
        schema = project.schemas[schema]
    if schema is None and Role(spec.role) is Role.DECISION:
        schema = {
            "type": "object",
            "properties": {"selected_edge": {"enum": list(labels)}},
            "required": ["selected_edge"],
        }
    return AgentBinding(agent, provider, provider_name, model, schema)


def _metadata(project: Project, agents: Mapping[str, tuple[AgentSpec, Any, str]]) -> Mapping[str, Any]:
    manifests = {stem: s.sha256 for stem, s in sorted(project.sources.items()) if not stem.startswith("schemas/")}
    schemas = {stem[8:]: s.sha256 for stem, s in sorted(project.sources.items()) if stem.startswith("schemas/")}
    providers = {agent.llm.partition("/")[0]: dist for agent, _, dist in agents.values()}
    return MappingProxyType({
        "engine_version": __version__,
        "manifests": MappingProxyType(manifests),
        "schemas": MappingProxyType(schemas),
        "providers": MappingProxyType(dict(sorted(providers.items()))),
    })
