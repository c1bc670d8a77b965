"""Pydantic models of the manifest files (SPEC §3).

Every model forbids unknown fields and is strict (``"yes"`` is not a boolean, ``"3"`` is not a number), so a
typo is an error with a suggestion rather than a silently ignored setting. These models are also the source of
``agent-engine schema`` and of the generated manifest reference.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "MANIFEST_MODELS",
    "AgentSpec",
    "AgentsManifest",
    "EdgeSpec",
    "MergeOptions",
    "NodeSpec",
    "PluginEntry",
    "PluginsManifest",
    "SchedulerManifest",
    "SchedulerSpec",
    "WorkflowManifest",
]

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", min_length=1)]
SchemaRef = Identifier | dict[str, Any]
Role = Literal["start", "linear", "decision", "branch", "split", "merge", "exit"]
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


class NodeSpec(_Manifest):
    """One node of the workflow DAG."""

    id: Identifier = Field(description="Unique node id.")
    name: str | None = Field(None, description="Display name.")
    kind: Literal["deterministic", "agent"] = Field(
        "deterministic", description="deterministic nodes run a handler; agent nodes call an LLM agent."
    )
    role: Role = Field(description="How the node routes: start, linear, decision, branch, split, merge, exit.")
    default_start: bool = Field(False, description="Marks the default start node when there are several.")
    handler: str | None = Field(None, description='Deterministic only: "module:function".')
    agent_id: Identifier | None = Field(None, description="Agent only: an id from agents.yaml.")
    schema_in: SchemaRef | None = Field(None, description="Schema file stem or inline JSON Schema for the input.")
    schema_out: SchemaRef | None = Field(None, description="Schema file stem or inline JSON Schema for the output.")
    context: Identifier = Field("none", description="A context profile id, 'global' or 'none'.")
    tools: list[Identifier] = Field(default_factory=list, description="Tools the node may invoke.")
    continue_on_failure: bool = Field(False, description="Record a failure and pass the input on.")
    memory_write: Literal["project", "global"] | None = Field(None, description="Also append output there.")
    always_fail: bool = Field(False, description="Exit only: force status failure.")
    merge: MergeOptions | None = Field(None, description="Merge only.")


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
    nodes: list[NodeSpec] = Field(min_length=1)
    edges: list[EdgeSpec] = Field(default_factory=list)


class AgentSpec(_Manifest):
    """An LLM agent that agent nodes refer to."""

    id: Identifier
    llm: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+/\S.*$")] = Field(
        description='"<provider>/<model>", the provider being a registered LLM provider.'
    )
    prompt: str = Field("", description="System instructions.")
    config: dict[str, Any] = Field(default_factory=dict, description="Passed to the provider.")
    credential: Identifier | None = Field(None, description="An id from provider_credentials.yaml.")


class AgentsManifest(_Manifest):
    """agents.yaml."""

    agents: list[AgentSpec] = Field(default_factory=list)


class SchedulerSpec(_Manifest):
    """Concurrency settings."""

    enabled: bool = True
    max_concurrency: int = Field(1, ge=1, description="Tasks in flight at once.")
    fanout_concurrency: int = Field(32, ge=1, description="Children of one branch/split in flight at once.")
    queue_policy: Literal["fifo"] = "fifo"
    max_queue_size: int | None = Field(100, ge=1, description="null = unbounded.")
    executor: Identifier = Field("local", description="local or any registered executor.")
    inline_fast_handlers: bool = Field(
        True,
        description="Run a fan-out child's sync handler on the event loop once its node has been measured "
        "fast (under 0.5 ms); false: always in a worker thread while siblings are in flight.",
    )


class SchedulerManifest(_Manifest):
    """scheduler.yaml."""

    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)


class PluginEntry(_Manifest):
    """Switches a telemetry sink on (with its config), or tunes/disables an installed observer plugin."""

    id: Identifier = Field(description="A registered telemetry sink, or the name of an installed observer plugin.")
    enabled: bool = Field(True, description="false switches an auto-loaded observer off for this project.")
    config: dict[str, Any] = Field(default_factory=dict, description="Passed to the sink's factory.")
    dispatch: Literal["inline", "background"] = Field(
        "inline", description="background: events go through a bounded queue off the execution path."
    )
    queue_size: int = Field(1000, ge=1, description="Capacity of the background queue (overflow is counted).")


class PluginsManifest(_Manifest):
    """plugins.yaml."""

    plugins: list[PluginEntry] = Field(default_factory=list)


MANIFEST_MODELS: dict[str, type[BaseModel]] = {
    "workflow": WorkflowManifest,
    "agents": AgentsManifest,
    "scheduler": SchedulerManifest,
    "plugins": PluginsManifest,
}
"""The manifest files this version understands, by file stem."""
