"""Assemble a runnable engine from a loaded project: DAG, handlers, validators, agents, settings.

Every pass adds located issues to one list; the build fails with all of them together.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from agent_engine_core._build.agents import AgentBinding, AgentLimits
from agent_engine_core._build.memory import bind_memory, context_assemblers, context_profiles, project_id_of
from agent_engine_core._build.runs import KeptRuns, RunsChoice, bind_runs
from agent_engine_core._build.policy import policy_denials
from agent_engine_core._version import __version__
from agent_engine_core._build.components import Components, distribution_hint
from agent_engine_core._build.credentials import LoadedCredential, resolve_credential
from agent_engine_core._build.context import Assembler, freeze
from agent_engine_core._build.evaluations import evaluation_issues
from agent_engine_core._build.cli_profiles import cli_profile_issues
from agent_engine_core._build.dag import Dag, DagNode, References, Role, WorkflowParts, blame_node, build_dag
from agent_engine_core.errors import HandlerError, ManifestError, ManifestIssue, ProviderError, ToolError
from agent_engine_core.executors import LOCAL, ExecutorSetup, TaskExecutor
from agent_engine_core._build.handlers import Handler, resolve_handler
from agent_engine_core.records import StageError
from agent_engine_core.llm import Credential, LlmProvider, ProviderSetup
from agent_engine_core._schemas import SchemaSet, schema_problem
from agent_engine_core.codec import plain
from agent_engine_core.secrets import Secret, redact
from agent_engine_core.tools import BoundTool, Tool, ToolSet, ToolSetup

if TYPE_CHECKING:
    import jsonschema

    from agent_engine_core.manifests.loader import Project
    from agent_engine_core.manifests.models import AgentSpec, NodeSpec, RunsSpec
    from agent_engine_core.memory import Memory

__all__ = ["Built", "Plan", "build", "close_tool_sources"]

_NO_TOOLS: Mapping[str, Any] = MappingProxyType({})
_NO_DENIALS: Mapping[str, StageError] = MappingProxyType({})


class Plan(NamedTuple):
    """Everything needed to execute one node, resolved at build time.

    A named tuple: a large workflow builds one per node on every load, three times faster than a dataclass.
    """

    node: DagNode
    handler: Handler | None = None
    schema_in: jsonschema.protocols.Validator | None = None
    schema_out: jsonschema.protocols.Validator | None = None
    agent: AgentBinding | None = None
    tools: Mapping[str, BoundTool] = _NO_TOOLS
    """The node's allowed tools, in the order its ``tools:`` lists them."""
    context: Assembler | None = None
    denial: StageError | None = None
    """The policy rule that denies this node, decided at build time (policies do not depend on the input)."""
    memory: Memory | None = None
    memory_denials: Mapping[str, StageError] = _NO_DENIALS
    """Memory layers the policy denies to ``ctx.memory`` at this node."""


@dataclass(frozen=True, slots=True)
class Built:
    """What an engine runs with."""

    dag: Dag
    plans: Mapping[str, Plan]
    fanout_concurrency: int
    inline_fast_handlers: bool
    metadata: Mapping[str, Any]
    memory: Memory
    executor: Callable[[int], Executor]
    """Makes the pool that runs sync handlers beside their siblings (the ``local`` executor's factory, whichever
    executor runs queued tasks: a worker runs its tasks' handlers with it)."""
    credentials: tuple[LoadedCredential, ...] = ()
    """The credentials whose keys were read for the agents, in the order they were read (for telemetry)."""
    runs: KeptRuns | None = None
    """The run store finished runs are kept in (``None``: the embedder asked for none)."""
    task_executor: TaskExecutor | None = None
    """Runs queued tasks elsewhere (scheduler.yaml names an executor other than ``local``); ``None``: here."""
    tool_sources: Mapping[str, Any] = field(default_factory=lambda: _NO_TOOLS)
    """tools.yaml entry id -> what its factory returned: told when a run finishes and when the engine closes."""


def close_tool_sources(sources: Mapping[str, Any]) -> list[str]:
    """Call ``close()`` on each tool source that has one; the problems, as ``tool 'id': message`` lines."""
    problems = []
    for tool_id, source in sources.items():
        close = getattr(source, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # one tool failing to close must not keep the others open
                problems.append(f"tool '{tool_id}' failed to close: {type(exc).__name__}: {exc}")
    return problems


def build(
    project: Project, components: Components, handlers: Mapping[str, Callable[..., Any]],
    issues: Sequence[ManifestIssue] = (), runs: RunsSpec | RunsChoice = None, *, for_replay: bool = False,
) -> Built:
    """Build the engine's runtime parts from ``project``; raises ``ManifestError`` with every issue.

    ``issues`` are problems found before the build (plugin configuration) to report together with its own;
    ``runs`` is the run store of a project whose memory.yaml has no ``runs:`` (``False``: keep no runs);
    ``for_replay`` builds the tools for an engine that replays recordings (``ToolSetup.for_replay``).
    """
    issues = [*project.issues, *issues]
    workflow = project.workflow
    parts = WorkflowParts.of(workflow) if workflow is not None else project.workflow_parts
    nodes = parts.well_formed_nodes if parts is not None else []
    source = project.source("workflow")
    issue_at = blame_node(parts or _NO_PARTS, source)
    pending = bind_memory(project, components, issues)
    memory = pending.memory if pending is not None else None
    credentials = _Credentials(project, issues)
    bound_tools = _bind_tools(project, components, memory, credentials, issues, for_replay=for_replay)
    tools = bound_tools.tools
    profiles = context_profiles(project, issues)
    assemblers = context_assemblers(project, profiles, memory, components, issues)
    refs = References(
        agents=_ids_of(project, "agents", {a.id for a in project.agents.agents}),
        schemas=set(project.schemas),
        context_profiles=_ids_of(project, "memory", ("none", *profiles)),
        tools=_ids_of(project, "tools", _ToolIds(tools, bound_tools.failed)),
    )
    node_ids = [i for i in parts.ids if i is not None] if parts is not None and None not in parts.ids else None
    denials = policy_denials(project, nodes, {
        "tool": refs.tools, "context": refs.context_profiles,
        "node": node_ids if node_ids is not None else _UNCHECKED, "memory": ("project", "global"),
    }, issues)
    roles = {spec.id: spec.role for spec in nodes} if node_ids is not None else None
    evaluation_issues(project, roles, refs.tools, issues)
    cli_profile_issues(project, nodes, components.of("cli_command").keys(), issues)
    if any(s.kind == "agent" for s in nodes) and "agents" not in project.sources:
        issues.append(ManifestIssue("the workflow has agent nodes but agents.yaml is missing",
                                    file=project.source("agents").file, code="manifest.missing_file",
                                    hint="define the agents in agents.yaml"))
    dag = None
    if parts is not None:
        dag, dag_issues = build_dag(parts, refs, source=source)
        issues.extend(dag_issues)
    schemas = SchemaSet(project.schemas)
    agents = _bind_agents(project, nodes, components, issues, credentials)
    plans: dict[str, Plan] = {}
    named = {name: registration.factory for name, registration in components.of("node_handler").items()}
    named.update(handlers)  # the embedder's own handlers win over a plugin's of the same name
    for spec in nodes:
        handler = None
        if spec.handler is not None:
            try:
                handler = resolve_handler(spec.handler, base_dir=project.base_dir, handlers=named)
            except HandlerError as exc:
                issues.append(issue_at(spec.id, "handler", "dag.handler_import", str(exc), exc.hint))
        if dag is not None and (node := dag.nodes.get(spec.id)) is not None and memory is not None:
            plans[spec.id] = Plan(
                node=node, handler=handler,
                schema_in=_validator(schemas, spec, "schema_in", issue_at, issues),
                schema_out=_validator(schemas, spec, "schema_out", issue_at, issues),
                agent=_agent_binding(agents, spec, node.labels, project) if node.is_agent else None,
                tools=_read_only({t: tools[t] for t in spec.tools if t in tools}),
                context=assemblers.get(spec.context), denial=denials.nodes.get(spec.id), memory=memory,
                memory_denials=_read_only(denials.memory.get(spec.id, {})),
            )
    task_executor = _bind_executor(project, components, handlers, issues)
    if project.scheduler.scheduler.rate_limit is not None:
        issues.append(project.source("scheduler").issue(
            "scheduler.rate_limit is reserved by the build plan for future work: rate limiting is not built yet "
            "(it comes with the multi-task scheduler, issue 14)", ["scheduler", "rate_limit"], key=True,
            hint="remove rate_limit until then", code="manifest.unsupported",
        ))
    pending_runs = bind_runs(project, components, project_id_of(project), runs, issues)
    # Nothing has been opened so far: memory backends (files, connections) open only for a valid project.
    if issues or dag is None or pending is None or not pending.open(project, issues):
        _release(task_executor)
        close_tool_sources(bound_tools.sources)
        raise ManifestError(_in_file_order(issues))
    kept = pending_runs.open(project, issues) if pending_runs is not None else None
    if issues:
        pending.memory.close()
        _release(task_executor)
        close_tool_sources(bound_tools.sources)
        raise ManifestError(_in_file_order(issues))
    scheduler = project.scheduler.scheduler
    return Built(dag, MappingProxyType(plans), scheduler.fanout_concurrency, scheduler.inline_fast_handlers,
                 _metadata(project, agents, bound_tools.sources, components), pending.memory,
                 components.of("executor")[LOCAL].factory, tuple(credentials.loaded), kept, task_executor,
                 MappingProxyType(bound_tools.sources))


def config_dir_of(project: Project) -> Path | None:
    """The folder the project was loaded from (``Engine.from_config_dir``), ``None`` for in-memory manifests."""
    base = project.base_dir
    if base is None or Path(project.source("workflow").file) != base / "workflow.yaml":
        return None
    return base.absolute()


def _bind_executor(
    project: Project, components: Components, handlers: Mapping[str, Callable[..., Any]],
    issues: list[ManifestIssue],
) -> TaskExecutor | None:
    """The task executor scheduler.yaml names (``None`` for ``local``), made by its factory; located issues.

    A task executor runs tasks in other processes, which build the engine from the config dir: the project must
    come from one, and its handlers from importable modules (a callable handed to ``from_dict`` stays here).
    """
    scheduler = project.scheduler.scheduler
    source = project.source("scheduler")
    executors = components.of("executor")
    registration = executors.get(scheduler.executor)
    if registration is None:
        issues.append(source.issue(f"executor '{scheduler.executor}' is not registered", ["scheduler", "executor"],
                                   hint=distribution_hint("executor", scheduler.executor, executors),
                                   code="manifest.unknown_component"))
        return None
    if scheduler.executor == LOCAL:
        if scheduler.config:
            issues.append(source.issue("executor 'local' takes no config", ["scheduler", "config"],
                                       hint="remove config, or name the executor it is for", code="manifest.invalid"))
        return None
    config_dir = config_dir_of(project)
    if config_dir is None or handlers:
        why = ("the manifests were not loaded from a config dir" if config_dir is None else
               f"handlers passed to the engine ({', '.join(sorted(handlers))}) exist in this process only")
        issues.append(source.issue(
            f"executor '{scheduler.executor}' runs tasks in worker processes, which build the engine from the "
            f"project's config dir, and {why}", ["scheduler", "executor"], code="manifest.unsupported",
            hint="use Engine.from_config_dir with handlers written as module:function, or executor: local"))
        return None
    setup = ExecutorSetup(scheduler.executor, scheduler.config, project, config_dir, scheduler.max_concurrency)
    try:
        executor = registration.factory(setup)
    except ManifestError as exc:
        issues.extend(exc.issues)
        return None
    except Exception as exc:  # a plugin's refusal of its config is a load error, located at that config
        issues.append(source.issue(f"executor '{scheduler.executor}': {type(exc).__name__}: {exc}"
                                   if not isinstance(exc, ValueError) else f"executor '{scheduler.executor}': {exc}",
                                   ["scheduler", "config" if scheduler.config else "executor"],
                                   code="manifest.invalid_config"))
        return None
    if not isinstance(executor, TaskExecutor):
        issues.append(source.issue(f"executor '{scheduler.executor}' built {type(executor).__name__}, which is not a "
                                   "task executor (it needs submit(task) and shutdown())", ["scheduler", "executor"],
                                   code="manifest.unknown_component",
                                   hint=f"the distribution {registration.distribution} registers it; report this"))
        return None
    return executor


def _release(executor: TaskExecutor | None) -> None:
    """Shut down the task executor of an engine that failed to build (a factory starts nothing, by contract)."""
    if executor is not None:
        executor.shutdown(wait=False)


class _Unchecked(Collection[str]):
    """The ids of a manifest that failed validation: a reference into it is not reported as unknown.

    The manifest's own errors are reported; echoing each of them as a broken reference elsewhere would bury them.
    """

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


_UNCHECKED = _Unchecked()
_NO_PARTS = WorkflowParts((), (), (), complete=False)


def _ids_of(project: Project, stem: str, ids: Collection[str]) -> Collection[str]:
    """``ids``, the ids manifest ``stem`` defines, or ``_UNCHECKED`` when that manifest failed validation."""
    return _UNCHECKED if stem in project.invalid else ids


def _in_file_order(issues: list[ManifestIssue]) -> list[ManifestIssue]:
    """Issues by file, then line and column, as an editor lists them; the passes find them in another order.

    Issues without a line come first in their file (they concern the file as a whole); the sort is stable, so
    issues at the same place keep the order of the passes that found them.
    """
    return sorted(issues, key=lambda i: (i.file or "", i.line or 0, i.column or 0))


_NOTHING: Mapping[str, Any] = MappingProxyType({})


def _read_only(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of ``mapping``; the empty ones, most nodes' tools and denials, share one view."""
    return MappingProxyType(mapping) if mapping else _NOTHING


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


@dataclass(frozen=True, slots=True)
class _Agent:
    """An agent some node uses, with its provider and where the provider came from."""

    spec: AgentSpec
    provider: LlmProvider
    distribution: str
    model: str
    limits: AgentLimits
    credential: Credential | None


def _bind_agents(
    project: Project, nodes: Sequence[NodeSpec], components: Components, issues: list[ManifestIssue],
    credentials: _Credentials,
) -> dict[str, _Agent]:
    """Build one provider per agent that some node uses; report unknown providers and unanswerable nodes."""
    source = project.source("agents")
    users: dict[str, list[str]] = {}
    for spec in nodes:
        if spec.kind == "agent" and spec.agent_id is not None:
            users.setdefault(spec.agent_id, []).append(spec.id)
    bound: dict[str, _Agent] = {}
    for position, agent in enumerate(project.agents.agents):
        if agent.id not in users:
            continue
        provider_name, _, model = agent.llm.partition("/")

        def issue(message: str, code: str, field: str = "llm", hint: str | None = None, *, at: int = position) -> None:
            issues.append(source.issue(message, ["agents", at, field], hint=hint, code=code))

        registration = components.llm_providers.get(provider_name)
        if registration is None:
            issue(f"agent '{agent.id}' uses LLM provider '{provider_name}', which is not installed",
                  "agents.unknown_provider",
                  hint=distribution_hint("llm_provider", provider_name, components.llm_providers))
            continue
        found = credentials.for_agent(agent, provider_name, issue)
        if found is False:
            continue
        credential = found or None
        if model == "default":
            if credential is None or credential.default_model is None:
                issue(f"agent '{agent.id}' asks for the default model, but no credential of provider "
                      f"'{provider_name}' sets config.default_model", "agents.provider_config",
                      hint="name the model in llm:, or set default_model in provider_credentials.yaml")
                continue
            model = credential.default_model
        keys = (credential.api_key,) if credential else ()  # a provider's message may echo the key
        try:
            limits = AgentLimits.from_config(agent.config)
            provider = registration.factory(ProviderSetup(agent, model, credential, project.base_dir))
        except ProviderError as exc:
            issue(f"agent '{agent.id}': {redact(str(exc), keys)}", "agents.provider_config",
                  "config" if agent.config else "llm")
            continue
        for problem in provider.check(users[agent.id]):
            issue(f"agent '{agent.id}': {redact(problem, keys)}", "agents.provider_config",
                  "config" if agent.config else "llm")
        bound[agent.id] = _Agent(agent, provider, registration.distribution, model, limits, credential)
    return bound


class _Credentials:
    """provider_credentials.yaml entries, each resolved (its secret read) at most once and only when used."""

    def __init__(self, project: Project, issues: list[ManifestIssue]) -> None:
        self._project = project
        self._source = project.source("provider_credentials")
        self._issues = issues
        self._resolved: dict[str, Credential | None] = {}
        self._positions: dict[str, int] = {}
        self.loaded: list[LoadedCredential] = []
        """The credentials whose keys were read, in that order."""
        for position, spec in enumerate(project.credentials.provider_credentials):
            if spec.id in self._positions:
                issues.append(self._source.issue(f"credential id '{spec.id}' is used twice",
                                                 ["provider_credentials", position, "id"], code="credentials.duplicate_id"))
            else:
                self._positions[spec.id] = position

    def for_agent(
        self, agent: AgentSpec, provider: str, issue: Callable[..., None]
    ) -> Credential | Literal[False] | None:
        """The agent's credential: the one it names, else the only one of its provider; False after an issue."""
        specs = self._project.credentials.provider_credentials
        if agent.credential is not None:
            position = self._positions.get(agent.credential)
            if position is None:
                close = difflib.get_close_matches(agent.credential, list(self._positions), n=1, cutoff=0.6)
                issue(f"agent '{agent.id}' names credential '{agent.credential}', which "
                      f"{self._source.file} does not define", "agents.unknown_credential", "credential",
                      hint=f"did you mean '{close[0]}'?" if close else "add it to provider_credentials.yaml")
                return False
            if specs[position].provider != provider:
                issue(f"agent '{agent.id}' uses provider '{provider}' but credential '{agent.credential}' is for "
                      f"'{specs[position].provider}'", "agents.unknown_credential", "credential")
                return False
            return self._resolve(position)
        candidates = [p for p in self._positions.values() if specs[p].provider == provider]
        if len(candidates) > 1:
            names = ", ".join(specs[p].id for p in candidates)
            issue(f"agent '{agent.id}': provider '{provider}' has several credentials ({names})",
                  "agents.unknown_credential", hint="name one with credential: <id>")
            return False
        return self._resolve(candidates[0]) if candidates else None

    def for_tool(self, credential_id: str) -> Secret:
        """The key of credential ``credential_id`` for a tools.yaml entry; ``ToolError`` when there is none."""
        position = self._positions.get(credential_id)
        if position is None:
            close = difflib.get_close_matches(credential_id, list(self._positions), n=1, cutoff=0.6)
            raise ToolError(f"credential '{credential_id}' is not defined in {self._source.file}"
                            + (f"; did you mean '{close[0]}'?" if close else " (add it there)"))
        found = self._resolve(position)
        if found is False:
            raise ToolError(f"credential '{credential_id}' cannot be read (see the issue in {self._source.file})")
        return found.api_key

    def _resolve(self, position: int) -> Credential | Literal[False]:
        spec = self._project.credentials.provider_credentials[position]
        if spec.id not in self._resolved:
            found = resolve_credential(spec, position, base_dir=self._project.base_dir, source=self._source)
            if isinstance(found, ManifestIssue):
                self._issues.append(found)
                self._resolved[spec.id] = None
            else:
                self._resolved[spec.id] = found
                self.loaded.append(LoadedCredential(spec.id, spec.provider, spec.auth.source))
        return self._resolved[spec.id] or False


class _BoundTools(NamedTuple):
    """Every tools.yaml entry built: the tools by id, what each factory returned, and the entries that failed."""

    tools: dict[str, BoundTool]
    sources: dict[str, Any]
    """Entry id -> the object its factory returned (a tool or a ``ToolSet``), for its optional lifecycle."""
    failed: set[str]
    """Entries whose factory failed: a reference to one of their tools is not reported again."""


def _bind_tools(
    project: Project, components: Components, memory: Memory | None, credentials: _Credentials,
    issues: list[ManifestIssue], *, for_replay: bool,
) -> _BoundTools:
    """Instantiate every tools.yaml entry through its registered type; report unknown types and bad configs.

    A factory that returns a ``ToolSet`` gives one tool per member, bound as ``<entry id>.<name>``.
    """
    source = project.source("tools")
    schemas = SchemaSet({})
    found = _BoundTools({}, {}, set())
    for position, spec in enumerate(project.tools.tools):

        def issue(message: str, code: str, field: str, hint: str | None = None, *, at: int = position) -> None:
            issues.append(source.issue(message, ["tools", at, field], hint=hint, code=code))

        if spec.id in found.sources or spec.id in found.failed:
            issue(f"tool id '{spec.id}' is used twice", "tools.duplicate_id", "id")
            continue
        found.failed.add(spec.id)  # until it is built
        registration = components.of("tool").get(spec.type)
        if registration is None:
            issue(f"tool '{spec.id}' has type '{spec.type}', which no installed distribution registers",
                  "tools.unknown_type", "type", distribution_hint("tool", spec.type, components.of("tool")))
            continue
        root = None
        if spec.root is not None:
            root = Path(spec.root).expanduser()
            root = (project.base_dir / root if project.base_dir and not root.is_absolute() else root).resolve()
            if not root.is_dir():
                issue(f"tool '{spec.id}': root {root} is not a directory", "tools.bad_root", "root",
                      "create it, or fix the path (relative paths start at the config dir)")
                continue
        try:
            built = registration.factory(ToolSetup(spec, root, project.base_dir, memory, credentials.for_tool,
                                                   for_replay))
        except (ToolError, ValueError, TypeError) as exc:
            issue(f"tool '{spec.id}': {exc}", "tools.bad_config", "config")
            continue
        if isinstance(built, ToolSet) and not isinstance(built, Tool):
            if spec.description is not None:
                issue(f"tool '{spec.id}' provides several tools, each described by its type; description applies "
                      "to a single tool", "tools.bad_config", "description", "remove description")
                continue
            members = {f"{spec.id}.{name}": tool for name, tool in dict(built.tools).items()}
        else:
            members = {spec.id: built}
        bound = {}
        for tool_id, tool in members.items():
            if tool_id in found.tools:
                issue(f"tool id '{tool_id}' is used twice", "tools.duplicate_id", "id")
                break
            problem = schema_problem(dict(getattr(tool, "parameters", {}) or {}))
            if not isinstance(tool, Tool) or problem is not None:
                issue(f"tool type '{spec.type}' built an unusable tool{'' if tool_id == spec.id else f' {tool_id!r}'}"
                      f": {problem or 'it needs description, parameters and invoke()'}", "tools.bad_type", "type")
                break
            bound[tool_id] = BoundTool(tool_id, tool, schemas.validator(dict(tool.parameters)),
                                       spec.description or tool.description)
        else:
            found.tools.update(bound)
            found.sources[spec.id] = built
            found.failed.discard(spec.id)
    return found


class _ToolIds(Collection[str]):
    """The tool ids nodes may name: those bound, and any id of an entry that failed (already reported there)."""

    def __init__(self, bound: Collection[str], failed: Collection[str]) -> None:
        self._bound, self._failed = bound, failed

    def __contains__(self, item: object) -> bool:
        if item in self._bound:
            return True
        return isinstance(item, str) and any(item == f or item.startswith(f"{f}.") for f in self._failed)

    def __iter__(self) -> Iterator[str]:
        return iter(self._bound)

    def __len__(self) -> int:
        return len(self._bound)


def _agent_binding(
    agents: Mapping[str, _Agent], spec: NodeSpec, labels: tuple[str, ...], project: Project
) -> AgentBinding | None:
    found = agents.get(spec.agent_id or "")
    if found is None:
        return None
    schema: Any = spec.schema_out
    if isinstance(schema, str):
        schema = project.schemas[schema]
    if schema is None and spec.role is Role.DECISION:
        schema = {
            "type": "object",
            "properties": {"selected_edge": {"enum": list(labels)}},
            "required": ["selected_edge"],
        }
    secrets = (found.credential.api_key,) if found.credential else ()
    return AgentBinding(found.spec, found.provider, found.spec.llm.partition("/")[0], found.model, schema,
                        found.limits, secrets)


_NOT_RUN_INPUTS = frozenset({"evaluations", "cli_profiles"})
"""Manifests that say how runs are checked or shown, not how they run: editing one changes no run's metadata."""


def _metadata(
    project: Project, agents: Mapping[str, _Agent], tool_sources: Mapping[str, Any], components: Components
) -> Mapping[str, Any]:
    manifests = {stem: s.sha256 for stem, s in sorted(project.sources.items())
                 if not stem.startswith("schemas/") and stem not in _NOT_RUN_INPUTS}
    schemas = {stem[8:]: s.sha256 for stem, s in sorted(project.sources.items()) if stem.startswith("schemas/")}
    providers = {agent.spec.llm.partition("/")[0]: agent.distribution for agent in agents.values()}
    return MappingProxyType({
        "engine_version": __version__,
        "manifests": MappingProxyType(manifests),
        "schemas": MappingProxyType(schemas),
        "providers": MappingProxyType(dict(sorted(providers.items()))),
        "agents": MappingProxyType({agent_id: _describe(agents[agent_id]) for agent_id in sorted(agents)}),
        "tools": MappingProxyType(_described_tools(project, tool_sources, components)),
    })


def _described_tools(
    project: Project, sources: Mapping[str, Any], components: Components
) -> dict[str, Mapping[str, Any]]:
    """Entry id -> what its tool says of itself (``describe()``), with its type and distribution; sorted by id."""
    types = {spec.id: spec.type for spec in project.tools.tools}
    described = {}
    for tool_id in sorted(sources):
        describe = getattr(sources[tool_id], "describe", None)
        if callable(describe):
            registration = components.of("tool")[types[tool_id]]
            described[tool_id] = freeze({**plain(describe()), "type": types[tool_id],
                                         "distribution": registration.distribution})
    return described


def _describe(agent: _Agent) -> Mapping[str, str]:
    """Provider, model, distribution and version, plus what the provider says of itself (SDK and version)."""
    import importlib.metadata  # noqa: PLC0415 - ~20 ms, needed only once agents are bound

    distribution = agent.distribution
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    described = getattr(agent.provider, "describe", None)
    keys = (agent.credential.api_key,) if agent.credential else ()
    extra = {str(k): redact(str(v), keys) for k, v in (described() if callable(described) else {}).items()}
    return MappingProxyType({**extra, "provider": agent.spec.llm.partition("/")[0], "model": agent.model,
                             "distribution": distribution, "version": version})
