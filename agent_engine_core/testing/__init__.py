"""The pytest plugin for people who build on Agent Engine (entry point ``pytest11``: loaded automatically).

Fixtures:

* ``make_engine(manifests, *, handlers=None, plugins=(), base_dir=None)`` builds an engine from a dict;
* ``engine_from_dir(path, *, plugins=())`` builds one from a config dir;
* ``event_recorder`` is an observer plugin that keeps every event it receives (``.events``, ``.of_type()``);
* ``fake_entry_points(*plugins)`` makes the next engines discover the given ``(name, object)`` pairs as if
  distributions had registered them in the ``agent_engine`` entry point group, and nothing else;
* ``secret_ledger`` (session) sets a canary API key in ``AGENT_ENGINE_TEST_API_KEY`` and fails the session if
  it (or one of its lines, escaped, percent-encoded or base64 forms) shows up in a log line, a file under the
  session's temporary directory, or anything given to ``secret_ledger.add(...)``;
* ``locked_dir`` is a ``LockedDir``: a folder nobody can write to, root included, until ``.unlock()``.

Helpers: ``find_secret(value, texts, folder)`` lists the texts and files holding any form of a secret;
``assert_trace_nodes(result, task_id, [...])`` checks the nodes a task visited, in order;
``assert_same_trace(a, b)`` compares two results' canonical traces and shows the first differing line;
``ToolPack({"demo.add": FunctionTool(description, parameters, function)})`` is a plugin registering tool
types made from plain functions, which records every call it runs; ``check_memory_backend(build, dir,
persistent=...)`` asserts the memory contract on a backend distribution's backends.

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
import re
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import pytest

from agent_engine_core.engine import Engine
from agent_engine_core.events import Event
from agent_engine_core.hookspecs import hookimpl
from agent_engine_core.records import TaskResult
from agent_engine_core.testing._canary import CANARY_ENV, SecretLedger, find_secret, secret_ledger
from agent_engine_core.testing._context_kit import check_context_retrieval
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
    locked_dir,
)
from agent_engine_core.tools import ToolResult

__all__ = [
    "CANARY_ENV",
    "EventRecorder",
    "FunctionTool",
    "LockedDir",
    "SecretLedger",
    "ToolPack",
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
    "check_threads_lose_nothing",
    "check_writes_survive_kills",
    "closed_after",
    "find_secret",
    "in_another_process",
    "locked_dir",
    "secret_ledger",
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


@pytest.fixture
def make_engine() -> Iterator[Callable[..., Engine]]:
    """Engines from in-memory manifests, closed after the test.

    Call it as ``make_engine(manifests, *, handlers=None, plugins=(), base_dir=None)`` (``Engine.from_dict``).
    """
    yield from closed_after(Engine.from_dict)


@pytest.fixture
def engine_from_dir() -> Iterator[Callable[..., Engine]]:
    """Engines from config dirs, closed after the test: ``engine_from_dir(path, *, plugins=())``."""
    yield from closed_after(Engine.from_config_dir)


@pytest.fixture
def event_recorder() -> EventRecorder:
    """A fresh ``EventRecorder``; pass it in ``plugins=[event_recorder]``."""
    return EventRecorder()


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Replace the ``agent_engine`` entry point group by the given ``(name, plugin[, distribution])`` items.

    Each plugin object is importable under a synthetic module name, so the real loader imports it exactly as
    it would an installed distribution's module (and a loader failure is reproducible by passing an object
    that raises from ``__getattr__``, or a module name that does not exist as a string).
    """

    def install(*plugins: tuple[Any, ...]) -> None:
        declared: dict[str, list[tuple[str, str]]] = {}
        for item in plugins:
            name, plugin = item[0], item[1]
            distribution = item[2] if len(item) > 2 else f"fake-{name}"  # noqa: PLR2004 - optional third item
            if isinstance(plugin, str):
                value = plugin
            else:
                module_name = "_agent_engine_fake_plugins." + re.sub(r"\W", "_", name)  # an importable name
                module = plugin if isinstance(plugin, types.ModuleType) else _as_module(module_name, plugin)
                monkeypatch.setitem(sys.modules, module_name, module)
                value = module_name
            declared.setdefault(distribution, []).append((name, value))
        points = [p for d, items in declared.items() for p in _FakeDistribution(d, items).entry_points]
        original = importlib.metadata.entry_points

        def entry_points(**params: Any) -> Any:
            if params.get("group") == "agent_engine":
                return importlib.metadata.EntryPoints(points)
            return original(**params)

        monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
        monkeypatch.delenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
        monkeypatch.delenv("AGENT_ENGINE_LOAD_PLUGINS", raising=False)

    return install


def _as_module(name: str, plugin: object) -> types.ModuleType:
    """A module whose attributes are the plugin object's hook implementations."""
    module = types.ModuleType(name)
    for attribute in dir(plugin):
        if not attribute.startswith("__"):
            setattr(module, attribute, getattr(plugin, attribute))
    return module


class _FakeDistribution(importlib.metadata.Distribution):
    """An installed distribution that exists only in memory: the metadata files it would have, as text.

    Its ``entry_points`` are read from that text by ``importlib.metadata`` itself, so each one knows its ``dist``
    exactly as an installed distribution's does (and declares only what an ``entry_points.txt`` can).
    """

    def __init__(self, name: str, points: list[tuple[str, str]]) -> None:
        self._files = {
            "METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.0\n",
            "entry_points.txt": "[agent_engine]\n" + "".join(f"{n} = {v}\n" for n, v in points),
        }

    def read_text(self, filename: str) -> str | None:
        """The text of one of its metadata files (``None`` for the files it does not have)."""
        return self._files.get(filename)

    def locate_file(self, path: Any) -> Any:
        """It has no files on disk; nothing the engine asks of it needs one."""
        raise FileNotFoundError(f"{path}: the fake distribution exists only in memory")
