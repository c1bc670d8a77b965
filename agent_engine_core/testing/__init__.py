"""Helpers for testing code built on Agent Engine; the fixtures are in ``agent_engine_core.testing.plugin``.

Installing ``agent-engine-core`` registers that plugin with pytest (entry point ``pytest11``), so its fixtures
(``make_engine``, ``engine_from_dir``, ``event_recorder``, ``fake_entry_points``, ``secret_ledger``,
``locked_dir``) need no import. This module imports without pytest: a check that needs ``pytest.raises`` or
Hypothesis imports it when it runs.

Helpers: ``find_secret(value, texts, folder)`` lists the texts and files holding any form of a secret;
``assert_trace_nodes(result, task_id, [...])`` checks the nodes a task visited, in order;
``assert_same_trace(a, b)`` compares two results' canonical traces and shows the first differing line;
``ToolPack({"demo.add": FunctionTool(description, parameters, function)})`` is a plugin registering tool
types made from plain functions, which records every call it runs; ``closed_after(build)`` is a fixture body
that closes what it built; ``fake_entry_point_group(items)`` is the entry point group ``fake_entry_points``
installs; ``assemble_context(profile, memory, input_json)`` is the context the engine would give a node;
``check_memory_backend(build, dir, persistent=...)`` asserts the memory contract on a backend distribution's
backends; ``check_run_store(build, dir, persistent=..., default_max_runs=...)`` asserts the run store contract
(``agent_engine_core.runs``) on a distribution's run stores, and ``check_run_store_property(build, dir)`` checks,
for any writes, that a store lists what the contract's model does (Hypothesis);
``check_run_journal(build, dir, persistent=...)`` asserts the run journal contract (``agent_engine_core.journal``);
``check_runs_survive_kills(build, dir, backend)``: an engine keeping its runs there, killed with SIGKILL mid-way,
loses no acknowledged run (``flush_runs()`` returned) and leaves only complete ones.

Memory backend checks beyond the contract (``build`` makes a backend from a ``MemorySetup``; ``factory`` names
one as ``"module:attribute"`` for a fresh interpreter to import):

* ``check_writes_survive_kills(factory, dir)`` and ``check_retention_survives_kills(factory, dir)``: writer
  processes killed with SIGKILL at random moments lose no acknowledged write, and retention stays exact;
* ``check_persistence_across_processes(factory, dir)``: what one process writes, the next reads, exactly;
* ``in_another_process(factory, setup, append=...)``: what a fresh interpreter's backend for ``setup`` holds
  (raising its ``ValueError`` when it cannot open the store), after which it appends ``append``;
* ``check_handles_share_the_store(build, dir)`` and ``check_threads_lose_nothing(build, dir)``: backends of
  one store in one process see each other's writes and retention, and threads lose nothing;
* ``check_closed_backend_refuses_work(build, dir, match=...)``, ``check_foreign_items_are_refused(build, dir,
  invalid_json_match=...)`` and ``check_fork_refused(build, dir, match=...)``: what a backend must refuse;
* ``check_retention_property(build)``: retention keeps exactly the newest ``max_items``, for any appends
  (Hypothesis, imported only when it runs);
* ``check_context_retrieval(build)``: with project and global memory on the backend, every context policy
  keeps its documented rule, for any items, profiles and budgets (Hypothesis, as above);
* ``check_memory_yaml_refused(dir, memory_yaml, match=...)`` and ``check_engines_share_memory(dir, backend,
  config=...)``: a store misconfigured in memory.yaml is a ``ManifestError`` of memory.yaml, and a store
  configured there is where the next engine finds what the last one wrote.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from agent_engine_core.events import Event
from agent_engine_core.hookspecs import hookimpl
from agent_engine_core.records import TaskResult
from agent_engine_core.testing._canary import CANARY_ENV, SecretLedger, find_secret
from agent_engine_core.testing._context_kit import assemble_context, check_context_retrieval
from agent_engine_core.testing._journal_conformance import check_run_journal
from agent_engine_core.testing._memory_conformance import check_memory_backend
from agent_engine_core.testing._memory_kit import (
    LockedDir,
    check_closed_backend_refuses_work,
    check_engines_share_memory,
    check_foreign_items_are_refused,
    check_fork_refused,
    check_handles_share_the_store,
    check_memory_yaml_refused,
    check_persistence_across_processes,
    check_retention_property,
    check_retention_survives_kills,
    check_threads_lose_nothing,
    check_writes_survive_kills,
    in_another_process,
)
from agent_engine_core.testing._run_store_conformance import check_run_store, check_run_store_property
from agent_engine_core.testing._run_store_kit import check_runs_survive_kills
from agent_engine_core.tools import ToolResult

__all__ = [
    "CANARY_ENV",
    "EventRecorder",
    "FunctionTool",
    "LockedDir",
    "SecretLedger",
    "ToolPack",
    "assemble_context",
    "assert_same_trace",
    "assert_trace_nodes",
    "check_closed_backend_refuses_work",
    "check_context_retrieval",
    "check_engines_share_memory",
    "check_foreign_items_are_refused",
    "check_fork_refused",
    "check_handles_share_the_store",
    "check_memory_backend",
    "check_memory_yaml_refused",
    "check_persistence_across_processes",
    "check_retention_property",
    "check_retention_survives_kills",
    "check_run_journal",
    "check_run_store",
    "check_run_store_property",
    "check_runs_survive_kills",
    "check_threads_lose_nothing",
    "check_writes_survive_kills",
    "closed_after",
    "fake_entry_point_group",
    "find_secret",
    "in_another_process",
]


class EventRecorder:
    """An observer that records every event, in delivery order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def on_event(self, event: Event) -> None:
        """Keep the (frozen) event."""
        self.events.append(event)

    def of_type(self, *types_: str) -> list[Event]:
        """The recorded events of the given types."""
        return [e for e in self.events if e.type in types_]

    def for_task(self, task_id: str) -> list[Event]:
        """The recorded events of one task, in sequence order."""
        return sorted((e for e in self.events if e.task_id == task_id), key=lambda e: e.seq)


class FunctionTool:
    """A tool type made from ``function(arguments) -> output``; every call it runs is kept in ``calls``."""

    def __init__(
        self, description: str, parameters: Mapping[str, Any], function: Callable[[dict[str, Any]], Any]
    ) -> None:
        self.description = description
        self.parameters = parameters
        self.function = function
        self.calls: list[dict[str, Any]] = []

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """The function's return value as a successful result."""
        self.calls.append(dict(arguments))
        return ToolResult.ok(self.function(dict(arguments)))


class ToolPack:
    """A plugin registering ``FunctionTool``s by tool type name: pass it in ``plugins=[...]``."""

    def __init__(self, tools: Mapping[str, FunctionTool]) -> None:
        self.tools = dict(tools)

    @hookimpl
    def register_tools(self, register: Callable[..., None]) -> None:
        """Register each tool type; every tools.yaml entry of a type shares its ``FunctionTool``."""
        for name, tool in self.tools.items():
            register(name, lambda setup, tool=tool: tool)


def assert_trace_nodes(result: TaskResult, task_id: str, expected: Sequence[str]) -> None:
    """Assert that ``task_id`` ran exactly the nodes ``expected``, in that order."""
    visited = [record.node_id for record in result.trace.for_task(task_id)]
    assert visited == list(expected), f"task {task_id} visited {visited}, expected {list(expected)}"


def assert_same_trace(first: TaskResult, second: TaskResult) -> None:
    """Assert byte-identical canonical traces, reporting the first line that differs."""
    a = first.trace.canonical().decode().splitlines()
    b = second.trace.canonical().decode().splitlines()
    for number, (left, right) in enumerate(zip(a, b, strict=False), start=1):
        assert left == right, f"traces differ at line {number}:\n  {left}\n  {right}"
    assert len(a) == len(b), f"traces differ in length: {len(a)} vs {len(b)} lines"


class _Closable(Protocol):
    def close(self) -> None: ...


Closable = TypeVar("Closable", bound=_Closable)


def closed_after(build: Callable[..., Closable]) -> Iterator[Callable[..., Closable]]:
    """A fixture body: hand out ``build``, then close whatever it built when the test ends.

    ``yield from closed_after(factory)``, for engines, providers, memory backends: anything with ``close()``.
    """
    built: list[Closable] = []

    def make(*args: Any, **kwargs: Any) -> Closable:
        made = build(*args, **kwargs)
        built.append(made)
        return made

    yield make
    for made in built:
        made.close()


def fake_entry_point_group(
    items: Iterable[tuple[Any, ...]],
) -> tuple[importlib.metadata.EntryPoints, dict[str, types.ModuleType]]:
    """The ``agent_engine`` entry points of ``(name, plugin[, distribution])`` items, and the modules they name.

    A plugin given as a string is the entry point's value as it stands; any other object becomes (or, being a
    module, is) the module named ``_agent_engine_fake_plugins.<name>``, which the caller makes importable
    (``sys.modules``). Each entry point belongs to a distribution (``fake-<name>`` unless given) that declares
    it, as an installed distribution's ``entry_points.txt`` would.
    """
    points: list[importlib.metadata.EntryPoint] = []
    modules: dict[str, types.ModuleType] = {}
    for item in items:
        name, plugin = item[0], item[1]
        distribution = item[2] if len(item) > 2 else f"fake-{name}"  # noqa: PLR2004 - optional third item
        if isinstance(plugin, str):
            value = plugin
        else:
            value = "_agent_engine_fake_plugins." + re.sub(r"\W", "_", name)  # an importable name
            modules[value] = plugin if isinstance(plugin, types.ModuleType) else _as_module(value, plugin)
        points.extend(_FakeDistribution(distribution, name, value).entry_points)
    return importlib.metadata.EntryPoints(points), modules


def _as_module(name: str, plugin: object) -> types.ModuleType:
    """A module whose attributes are the plugin object's hook implementations."""
    module = types.ModuleType(name)
    for attribute in dir(plugin):
        if not attribute.startswith("__"):
            setattr(module, attribute, getattr(plugin, attribute))
    return module


class _FakeDistribution(importlib.metadata.Distribution):
    """A distribution, version 0.0.0, whose metadata declares one ``agent_engine`` entry point."""

    def __init__(self, name: str, entry_point: str, value: str) -> None:
        self._files = {
            "METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.0\n",
            "entry_points.txt": f"[agent_engine]\n{entry_point} = {value}\n",
        }

    def read_text(self, filename: str) -> str | None:
        """The text of one of its metadata files, or None."""
        return self._files.get(filename)

    def locate_file(self, path: str | os.PathLike[str]) -> Path:
        """Where a file of the distribution would be: it has none on disk."""
        return Path(path)
