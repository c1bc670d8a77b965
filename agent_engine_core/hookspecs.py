"""The plugin author's reference: every hook Agent Engine calls, when, with what, and what a return means.

A plugin is any object (usually a module) with functions marked ``@hookimpl`` whose names match the hooks
below. An implementation may accept any subset of a hook's arguments, by name. Plugins reach an engine through
the ``agent_engine`` entry point group, through ``plugins.yaml``, or directly:
``Engine.from_config_dir(path, plugins=[my_plugin])``.

Three families:

* **Registration hooks** are called once while an engine is built. They receive a ``register`` callback; what
  they register is owned by the engine that called them. Registering a name another distribution already took
  is a load-time ``PluginError`` naming both distributions. Return values are ignored.
* **Observer hooks** are called during runs. They receive **frozen snapshots** (``agent_engine_core.events``):
  immutable all the way down and holding no reference to live engine state. Return values are ignored. An
  observer that raises is logged with its plugin name and counted; one that keeps failing is switched off for
  the rest of the run. Observers cannot change a run's routing, outputs, status or trace.
* **Reader hooks** are called when the core needs something only a plugin can read; the first implementation
  that returns something other than ``None`` answers (pluggy's ``firstresult``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pluggy

from agent_engine_core.events import (
    AgentCallEvent,
    Event,
    NodeFinished,
    NodeStarted,
    RoutingDecision,
    TaskFinished,
    TaskStarted,
    ToolInvoked,
)

__all__ = ["OBSERVER_HOOKS", "PROJECT", "REGISTRATION_HOOKS", "hookimpl", "hookspec"]

PROJECT = "agent_engine"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


# --------------------------------------------------------------------------------------------------------------
# Registration hooks: called once per engine, while it is built, in plugin load order.
# --------------------------------------------------------------------------------------------------------------


@hookspec
def register_llm_providers(register: Register) -> None:
    """Register LLM providers: ``register(name, factory)``.

    ``name`` is what agents.yaml writes before the slash in ``llm: "<name>/<model>"``. ``factory(setup)`` gets a
    ``ProviderSetup`` (the agent, the resolved model, its ``Credential`` or None, the config dir; ``setup.options``
    is the agent config without the engine's keys) and returns an ``LlmProvider`` for that agent, or raises
    ``ProviderError`` when the agent's config is unusable (reported at load time, located in agents.yaml). See
    ``agent_engine_core.llm`` for the request and reply, and docs/AGENTS.md for what the engine sends.
    """


@hookspec
def register_tools(register: Register) -> None:
    """Register tool types: ``register(type_name, factory)`` (used where tools.yaml names the type).

    ``factory(setup)`` gets a ``ToolSetup`` (the tools.yaml entry, its resolved ``root``, the config dir) and
    returns a tool (``description``, ``parameters`` JSON Schema, ``invoke(arguments) -> ToolResult``), or raises
    ``ToolError``/``ValueError`` for an unusable config. See ``agent_engine_core.tools``.
    """


@hookspec
def register_memory_backends(register: Register) -> None:
    """Register memory backends: ``register(name, factory)`` (used where memory.yaml names the backend)."""


@hookspec
def register_run_stores(register: Register) -> None:
    """Register run stores: ``register(name, factory)`` (used where memory.yaml's ``runs:`` names the backend).

    ``factory(setup)`` gets a ``RunStoreSetup`` (project id, config dir, retention, ``config``) and returns a
    ``RunStore``, or raises (``ValueError`` for a bad config: a located load-time error). A store is used from
    the engine's writer thread and from callers' threads at once. See ``agent_engine_core.runs``.
    """


@hookspec
def register_run_journals(register: Register) -> None:
    """Register run journals: ``register(name, factory)``, named like the run store they go with.

    memory.yaml's ``runs: {durability: stage}`` opens the journal registered under ``runs: backend``'s name with
    the run store's ``RunStoreSetup``; ``factory(setup)`` returns a ``RunJournal`` (``ValueError`` for a bad
    config). Durable runs append every stage to it before going on. See ``agent_engine_core.journal``.
    """


@hookspec
def register_telemetry_sinks(register: Register) -> None:
    """Register telemetry sinks: ``register(name, factory)``; a sink is switched on by plugins.yaml.

    ``factory(config, project_dir)`` receives the plugins.yaml entry's ``config`` mapping and the config dir
    (``None`` for in-memory manifests) and returns an object implementing observer hooks (most sinks implement
    only ``on_event``). Raising (``ValueError`` for a bad config) is a located load-time error. When the engine
    closes, the sink's ``close()`` is called if it has one.
    """


@hookspec
def register_executors(register: Register) -> None:
    """Register task executors: ``register(name, factory)`` (used where scheduler.yaml names the executor).

    ``factory(setup)`` gets an ``ExecutorSetup`` (the name, scheduler.yaml's ``config``, the validated project,
    its config dir, ``max_concurrency``) while the engine is built and returns a ``TaskExecutor``: ``submit(task)
    -> concurrent.futures.Future[TaskOutcome]`` and ``shutdown()``. It checks and starts nothing else: raising
    ``ValueError`` is a load error located at scheduler.yaml's ``config``, ``ManifestError`` adds its own located
    issues. ``engine.run_queued()`` then hands it each queued task; wherever it runs them, it calls
    ``agent_engine_core.worker.run_task(task)``. The name ``local`` is the core's own (tasks run in the engine's
    process). See ``agent_engine_core.executors`` and docs/PLUGINS.md.
    """


@hookspec
def register_node_handlers(register: Register) -> None:
    """Register named node handlers: ``register(name, function)``; ``handler: name`` then resolves to it.

    A name is looked up before it is imported as ``module:function``, so a plugin may register either form
    (``"summarise"``, ``"acme:summarise"``). A handler of the same name passed to ``Engine.from_dict(...,
    handlers=...)`` takes precedence; two plugins registering one name is a load-time error naming both.
    """


@hookspec
def register_cli_commands(register: Register) -> None:
    """Register extra ``agent-engine`` sub-commands: ``register(click_command)``."""


@hookspec
def register_token_counters(register: Register) -> None:
    """Register token counters for context budgets: ``register(name, function(text) -> int)``."""


# --------------------------------------------------------------------------------------------------------------
# Observer hooks: called during runs with frozen snapshots; return values are ignored.
# --------------------------------------------------------------------------------------------------------------


@hookspec
def on_event(event: Event) -> None:
    """Called for every event of every run, in per-task sequence order (see docs/EVENTS.md)."""


@hookspec
def on_task_started(event: TaskStarted) -> None:
    """A task (root, clone or subtask) started; ``event.input`` is its input."""


@hookspec
def on_node_started(event: NodeStarted) -> None:
    """A stage is about to run: the task's policy check, context, input validation and execution follow."""


@hookspec
def on_node_finished(event: NodeFinished) -> None:
    """A stage ended, successfully or not (``event.status``); carries its input, output and error."""


@hookspec
def on_routing_decision(event: RoutingDecision) -> None:
    """A task was routed: the edge a decision chose, or the children a branch/split created."""


@hookspec
def on_tool_invoked(event: ToolInvoked) -> None:
    """A tool was invoked by a handler or an agent (arguments and result)."""


@hookspec
def on_agent_call(event: AgentCallEvent) -> None:
    """An LLM provider answered an agent node (request, reply, usage, latency)."""


@hookspec
def on_task_finished(event: TaskFinished) -> None:
    """A task ended with its final status and output."""


# --------------------------------------------------------------------------------------------------------------
# Reader hooks: called when the core needs to read what a plugin wrote; the first non-None answer wins.
# --------------------------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def read_trace_events(path: Path, run_id: str | None) -> Sequence[Mapping[str, Any]] | None:
    """Read a recorded run from ``path``, a file or folder that is not a ``.json`` recording.

    Called by ``engine.replay(path)`` and ``agent-engine replay DIR PATH``. Return the run's events as
    ``Event.to_dict()`` dicts in the order they were emitted (the core rebuilds the trace with
    ``Trace.from_events``), or ``None`` when ``path`` is not in the plugin's format. ``run_id`` picks one run
    where ``path`` holds several. Raise ``OSError`` or ``ValueError`` with a located message (``file:line: what
    is wrong``) when ``path`` is in the format but unreadable; warn (a ``UserWarning``) about what was skipped,
    such as a torn last line: when the events then do not make a whole run, the warning is part of the error.
    A reader that accepts any path should be ``@hookimpl(trylast=True)``, so that more selective ones are
    asked first.
    """


REGISTRATION_HOOKS = (
    "register_llm_providers",
    "register_tools",
    "register_memory_backends",
    "register_run_stores",
    "register_run_journals",
    "register_telemetry_sinks",
    "register_executors",
    "register_node_handlers",
    "register_cli_commands",
    "register_token_counters",
)
"""Hooks called once while an engine is built."""

OBSERVER_HOOKS = (
    "on_event",
    "on_task_started",
    "on_node_started",
    "on_node_finished",
    "on_routing_decision",
    "on_tool_invoked",
    "on_agent_call",
    "on_task_finished",
)
"""Hooks called during runs with frozen snapshots."""
