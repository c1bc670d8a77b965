"""Pydantic models of the manifest files (SPEC §3).

Every model forbids unknown fields and is strict (``"yes"`` is not a boolean, ``"3"`` is not a number), so a
typo is an error with a suggestion rather than a silently ignored setting. These models are also the source of
``agent-engine schema`` and of the generated manifest reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic_core import core_schema

from agent_engine_core.manifests._frozen import AsWritten, FrozenDict, Items, JSONObject, NonEmptyItems
from agent_engine_core.manifests._role import ROLES, Role
from agent_engine_core.manifests.evaluations import EvaluationsManifest
from agent_engine_core.memory import StoreName

__all__ = [
    "MANIFEST_MODELS",
    "AgentSpec",
    "AgentsManifest",
    "AuthSpec",
    "CliProfile",
    "CliProfilesManifest",
    "ContextProfile",
    "ContextSource",
    "CredentialSpec",
    "CredentialsConfig",
    "EdgeSpec",
    "MemoryManifest",
    "MemorySpec",
    "MergeOptions",
    "NodeSpec",
    "PluginEntry",
    "PluginsManifest",
    "Policy",
    "PolicyManifest",
    "PolicyRule",
    "ProviderCredentialsManifest",
    "RateLimitSpec",
    "Role",
    "RunsSpec",
    "SchedulerManifest",
    "SchedulerSpec",
    "StoreSpec",
    "ToolSpec",
    "ToolsManifest",
    "WorkflowManifest",
]

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", min_length=1)]
SchemaRef = Annotated[Identifier | Mapping[str, Any], AsWritten()]


class _RoleName:
    """Validated as the literal names (the error lists them, as a ``Literal``'s does), kept as a ``Role``."""

    @staticmethod
    def __get_pydantic_core_schema__(source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            ROLES.__getitem__, core_schema.literal_schema(list(ROLES)),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )


OnFailure = Literal["fail_on_any", "ignore_failures", "include_failures"]


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class MergeOptions(_Manifest):
    """Options of a merge node."""

    on_failure: OnFailure = Field(
        "fail_on_any",
        description="fail_on_any: a failed child fails the merge; ignore_failures: failed children are left "
        "out; include_failures: failed children are included with their error.",
    )


class ApprovalOptions(_Manifest):
    """A node's approval gate: a task reaching the node waits until a person approves its input."""

    required: bool = Field(True, description="The gate is on (false: the node runs without asking).")
    prompt: str | None = Field(None, description="What the person approving is asked; shown with the input.")
    timeout: float | None = Field(None, gt=0, description="Seconds an approval may wait; a decision asked for "
                                  "later is a rejection (the stage fails with kind approval).")


class NodeSpec(_Manifest):
    """One node of the workflow DAG."""

    id: Identifier = Field(description="Unique node id.")
    name: str | None = Field(None, description="Display name.")
    kind: Literal["deterministic", "agent"] = Field(
        "deterministic", description="deterministic nodes run a handler; agent nodes call an LLM agent."
    )
    role: Annotated[Role, _RoleName] = Field(
        description="How the node routes: start, linear, decision, branch, split, merge, exit."
    )
    default_start: bool = Field(False, description="Marks the default start node when there are several.")
    handler: str | None = Field(None, description='Deterministic only: "module:function".')
    agent_id: Identifier | None = Field(None, description="Agent only: an id from agents.yaml.")
    schema_in: SchemaRef | None = Field(None, description="Schema file stem or inline JSON Schema for the input.")
    schema_out: SchemaRef | None = Field(None, description="Schema file stem or inline JSON Schema for the output.")
    context: Identifier = Field("none", description="A context profile id, 'global' or 'none'.")
    tools: Items[Identifier] = Field(default_factory=tuple, description="Tools the node may invoke.")
    continue_on_failure: bool = Field(False, description="Record a failure and pass the input on.")
    memory_write: Literal["project", "global"] | None = Field(None, description="Also append output there.")
    always_fail: bool = Field(False, description="Exit only: force status failure.")
    merge: MergeOptions | None = Field(None, description="Merge only.")
    approval: ApprovalOptions | None = Field(None, description="Wait for a person to approve the input first "
                                             "(needs memory.yaml runs: {durability: stage}).")


class EdgeSpec(_Manifest):
    """A directed edge; ``label`` is required on edges leaving a decision node."""

    source: Identifier = Field(alias="from", description="Id of the node the edge leaves.")
    to: Identifier = Field(description="Id of the node the edge enters.")
    label: str | None = Field(None, description="Required on edges leaving a decision node.")

    @property
    def edge_id(self) -> str:
        """``from->to``, how errors name the edge."""
        return f"{self.source}->{self.to}"


class WorkflowManifest(_Manifest):
    """workflow.yaml: exactly one DAG."""

    version: Literal["1.0"] = Field(description='Manifest format version: "1.0".')
    description: str | None = None
    nodes: NonEmptyItems[NodeSpec]
    edges: Items[EdgeSpec] = Field(default_factory=tuple)


class AgentSpec(_Manifest):
    """An LLM agent that agent nodes refer to."""

    id: Identifier
    llm: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+/\S.*$")] = Field(
        description='"<provider>/<model>", the provider being a registered LLM provider.'
    )
    prompt: str = Field("", description="System instructions.")
    config: JSONObject = Field(default_factory=FrozenDict, description="Passed to the provider.")
    credential: Identifier | None = Field(None, description="An id from provider_credentials.yaml.")


class AgentsManifest(_Manifest):
    """agents.yaml."""

    agents: Items[AgentSpec] = Field(default_factory=tuple)


class RateLimitSpec(_Manifest):
    """The build plan's reserved rate limit (its "future work"): accepted in this form, refused as not built yet."""

    requests_per_minute: int = Field(ge=1)
    burst: int | None = Field(None, ge=1)


class SchedulerSpec(_Manifest):
    """Concurrency settings."""

    enabled: bool = True
    max_concurrency: int = Field(1, ge=1, description="Tasks in flight at once.")
    fanout_concurrency: int = Field(32, ge=1, description="Children of one branch/split in flight at once.")
    queue_policy: Literal["fifo"] = "fifo"
    max_queue_size: int | None = Field(100, ge=1, description="null = unbounded.")
    executor: Identifier = Field("local", description="local or any registered executor (dask: a Dask cluster).")
    config: JSONObject = Field(default_factory=FrozenDict, description="Passed to the executor (dask: address). "
                               "local takes none.")
    inline_fast_handlers: bool = Field(
        True,
        description="Run a fan-out child's sync handler on the event loop once its node has been measured "
        "fast (under 0.5 ms); false: always in a worker thread while siblings are in flight.",
    )
    rate_limit: RateLimitSpec | None = Field(
        None, description="Reserved by the build plan for rate limiting (not built yet): a project setting it is "
        "refused."
    )


class SchedulerManifest(_Manifest):
    """scheduler.yaml."""

    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)


class PluginEntry(_Manifest):
    """Switches a telemetry sink on (with its config), or tunes/disables an installed observer plugin."""

    id: Identifier = Field(description="A registered telemetry sink, or the name of an installed observer plugin.")
    enabled: bool = Field(True, description="false switches an auto-loaded observer off for this project.")
    config: JSONObject = Field(default_factory=FrozenDict, description="Passed to the sink's factory.")
    dispatch: Literal["inline", "background"] = Field(
        "inline", description="background: events go through a bounded queue off the execution path."
    )
    queue_size: int = Field(1000, ge=1, description="Capacity of the background queue (overflow is counted).")


class PluginsManifest(_Manifest):
    """plugins.yaml."""

    plugins: Items[PluginEntry] = Field(default_factory=tuple)


class ToolSpec(_Manifest):
    """A tool a node may be allowed to use: an instance of a registered tool type with its permissions."""

    id: Identifier = Field(description="The name nodes list in tools: and handlers call as ctx.tools.<id>.")
    type: Identifier = Field(description="A tool type registered by an installed distribution, e.g. fs.read_file.")
    description: str | None = Field(None, description="Shown to models instead of the tool type's description.")
    root: str | None = Field(None, description="Confines every path argument; relative to the config dir.")
    allow_network: bool = Field(False, description="The tool may open network connections.")
    allow_shell: bool = Field(False, description="The tool may start processes.")
    timeout_s: float = Field(30.0, gt=0, description="How long one invocation may take.")
    config: JSONObject = Field(default_factory=FrozenDict, description="Passed to the tool type's factory.")
    approval: Literal["required", "none"] = Field(
        "none", description="required: every call waits for a person to approve its arguments (needs memory.yaml "
        "runs: {durability: stage}).",
    )


class ToolsManifest(_Manifest):
    """tools.yaml."""

    tools: Items[ToolSpec] = Field(default_factory=tuple)


class AuthSpec(_Manifest):
    """Where an API key comes from: an environment variable or a file (text, or a key of a JSON/YAML file)."""

    type: Literal["api_key"] = "api_key"
    source: Literal["env", "file"] = Field(description="env: read env_var; file: read file_path.")
    env_var: str | None = Field(None, description="source: env -- the variable holding the key.")
    file_path: str | None = Field(None, description="source: file -- the key file, relative to the config dir.")
    file_key: str | None = Field(
        None, description="source: file -- the (dotted) key holding the value, the file read as JSON (.json) or "
        "else YAML.",
    )


class CredentialsConfig(_Manifest):
    """Where and with which default model the provider is reached."""

    base_url: str | None = Field(None, description="The API endpoint, e.g. an OpenAI-compatible server.")
    default_model: str | None = Field(None, description='The model of agents that write llm: "<provider>/default".')


class CredentialSpec(_Manifest):
    """One credential: a provider, how its API key is found, and its endpoint settings."""

    id: Identifier
    provider: Identifier = Field(description="The LLM provider this credential is for.")
    auth: AuthSpec
    config: CredentialsConfig = Field(default_factory=CredentialsConfig)


class ProviderCredentialsManifest(_Manifest):
    """provider_credentials.yaml: a top-level ``provider_credentials:`` list (SPEC §3.5, the build plan)."""

    RENAMED: ClassVar[Mapping[str, str]] = MappingProxyType({"credentials": "provider_credentials"})
    """Keys earlier versions read, with the name that replaced them (refused, with the new name as the fix)."""

    provider_credentials: Items[CredentialSpec] = Field(default_factory=tuple)




class RetentionSpec(_Manifest):
    """How much a store keeps."""

    max_items: int | None = Field(None, ge=1, description="Beyond this many items the oldest are deleted.")


class StoreSpec(_Manifest):
    """One memory store: which backend holds it, its retention and the backend's settings."""

    backend: Identifier = Field("memory", description="memory | jsonl | sqlite | postgres | any registered backend.")
    retention: RetentionSpec = Field(default_factory=RetentionSpec)
    config: JSONObject = Field(default_factory=FrozenDict, description="Passed to the backend (paths, DSN, pool).")


class MemorySpec(_Manifest):
    """The three stores."""

    project_id: Identifier | None = Field(None, description="Scopes project memory (default: the config dir name).")
    task_store: StoreSpec = Field(default_factory=StoreSpec)
    project_store: StoreSpec = Field(default_factory=StoreSpec)
    global_store: StoreSpec = Field(default_factory=StoreSpec)


class RunsSpec(_Manifest):
    """The run store: where every finished run is kept for the inspector, eval, diff and replay (docs/OPERATIONS.md)."""

    backend: Identifier = Field("memory", description="memory | jsonl | sqlite | postgres | any registered run store.")
    retention: RetentionSpec = Field(default_factory=RetentionSpec,
                                     description="max_items: runs kept (default: memory 100, the others 10000).")
    config: JSONObject = Field(default_factory=FrozenDict, description="Passed to the store (paths, DSN).")
    events: bool = Field(True, description="Keep each run's events with it (inspect events); false saves their cost.")
    durability: Literal["off", "stage"] = Field(
        "off", description="stage: journal every stage before the next starts, so that a run can be resumed "
        "after a crash and wait for approvals (docs/DURABLE_RUNS.md); off: runs are kept once finished.",
    )


class ContextSource(_Manifest):
    """Where a context profile takes items from."""

    store: StoreName = Field(description="task (this task and its ancestors), project or global.")
    tags: Items[str] = Field(default_factory=tuple, description="Only items with at least one of these tags.")
    limit: int | None = Field(None, ge=1, description="At most this many of the newest items of the source.")


class ContextProfile(_Manifest):
    """A named recipe for the context an agent or handler receives."""

    id: Identifier
    sources: NonEmptyItems[ContextSource]
    retrieval_policy: Literal["recency", "hybrid", "all"] = Field(
        "recency", description="recency: newest first; hybrid: recency plus keyword overlap with the node input; "
        "all: every item, trimmed at the budget keeping the oldest and newest.",
    )
    max_tokens: int = Field(2000, ge=1, description="Budget of the assembled context, in the counter's tokens.")
    token_counter: Identifier = Field("estimate", description="estimate (built in) or a registered counter.")


GLOBAL_PROFILE = ContextProfile.model_validate({  # as YAML writes it: strict models take lists, not tuples
    "id": "global", "sources": [{"store": "task"}, {"store": "project"}, {"store": "global"}],
    "retrieval_policy": "recency", "max_tokens": 2000,
})
"""``context: global``: every store, newest first, 2000 estimated tokens."""


class MemoryManifest(_Manifest):
    """memory.yaml."""

    memory: MemorySpec = Field(default_factory=MemorySpec)
    context_profiles: Items[ContextProfile] = Field(default_factory=tuple)
    runs: RunsSpec | None = Field(None, description="The run store (default: the last 100 runs, in memory, "
                                                    "without their events).")


PolicyTarget = Literal["tool", "context", "node", "memory"]


class PolicyRule(_Manifest):
    """Allows or denies a tool, a context profile, a node or a memory layer; the first matching rule decides."""

    target: PolicyTarget
    target_id: Identifier = Field(description="The tool, context profile (or global), node, or memory layer.")
    action: Literal["allow", "deny"]
    reason: str | None = Field(None, description="Recorded with a denial.")
    nodes: Items[Identifier] | None = Field(None, description="Only at these nodes (default: everywhere).")


class Policy(_Manifest):
    """A named group of rules."""

    name: Identifier
    rules: NonEmptyItems[PolicyRule]


class PolicyManifest(_Manifest):
    """policy.yaml."""

    policies: Items[Policy] = Field(default_factory=tuple)


class CliProfile(_Manifest):
    """A REPL profile (``agent-engine repl DIR --profile ID``): which project a typed line runs, and how."""

    id: Identifier
    description: str | None = Field(None, description="Shown by /profile and /help.")
    default_config_dir: str | None = Field(
        None, validation_alias=AliasChoices("default_config_dir", "config_dir"),
        description="The config dir the profile runs, relative to this one (default: this config dir). "
        "The build plan's spelling config_dir is accepted too.",
    )
    prompt: str = Field("> ", description="The prompt the REPL shows.")
    input_field: Identifier = Field("input", description="The field of the task input a typed line fills.")
    attach_field: Identifier | None = Field(
        None, description="The field that /attach FILE adds [{name, content}] to, in the next input "
        "(default: /attach is refused in this profile).",
    )
    render: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")] = Field(
        "json", validation_alias=AliasChoices("render", "show"),
        description="How a result is shown: json, markdown (a string as Markdown, an object as a list of its "
        "fields), or a dotted field path of the output (e.g. summary.title). The spelling show is accepted too.",
    )
    commands: Items[Identifier] | None = Field(
        None, description="The plugin commands (register_cli_commands) the profile offers as /NAME "
        "(default: every installed one).",
    )

    @model_validator(mode="after")
    def _distinct_fields(self) -> CliProfile:
        if self.attach_field == self.input_field:
            raise ValueError(f"attach_field and input_field are both '{self.input_field}': a typed line would "
                             "overwrite the attachments")
        return self


class CliProfilesManifest(_Manifest):
    """cli_profiles.yaml: the REPL's profiles (SPEC §3.6)."""

    cli_profiles: NonEmptyItems[CliProfile]

    @model_validator(mode="after")
    def _unique_ids(self) -> CliProfilesManifest:
        ids = [profile.id for profile in self.cli_profiles]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"profile id '{twice[0]}' is used more than once")
        return self


MANIFEST_MODELS: Mapping[str, type[BaseModel]] = MappingProxyType({
    "workflow": WorkflowManifest,
    "agents": AgentsManifest,
    "tools": ToolsManifest,
    "scheduler": SchedulerManifest,
    "plugins": PluginsManifest,
    "provider_credentials": ProviderCredentialsManifest,
    "memory": MemoryManifest,
    "policy": PolicyManifest,
    "evaluations": EvaluationsManifest,
    "cli_profiles": CliProfilesManifest,
})
"""The manifest files this version understands, by file stem."""
