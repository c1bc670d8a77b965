"""Nothing reachable from an ``Engine``'s public attributes can be changed through them.

Hypothesis builds engines from generated workflows (``test_dag_properties.workflows``) dressed with the other
manifests (agents with nested ``config:``, inline schemas, tools lists, context profiles, policies, plugins.yaml,
a scheduler), then walks every object reachable from the engine's public attributes and tries to change each
one: ``setattr`` of every attribute (and of a new one), item assignment and deletion, and every mutating method
a list, dict or set has. Every attempt must raise.

What the walk covers and where it stops (docs/DECISIONS.md, "Deep immutability"):
- it follows public attributes (no leading underscore) of the core's objects, the fields of pydantic models and
  dataclasses, the items of tuples, named tuples, frozensets and mappings, and the public properties;
- it stops at functions, methods, classes and modules, and at objects of types defined outside the core: the
  handler callables, provider instances and plugin objects their authors own;
- ``engine.memory`` and ``engine.artifacts`` are the engine's live stores: no attribute of theirs can be
  rebound, and the walk stops at their backends, whose contents change through ``append`` and ``put`` by design;
- ``object.__setattr__``, ``dict.__setitem__(frozen, ...)`` and a model's ``__dict__`` are bypasses of the
  types' own methods, as ``object.__setattr__`` on a frozen dataclass is: out of scope, and not attempted.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import inspect
import json
import operator
import pickle
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from test_dag_properties import HANDLERS, workflows

from agent_engine_core import Engine
from agent_engine_core._build.components import CATEGORIES
from agent_engine_core.codec import dumps
from agent_engine_core.manifests._frozen import FrozenDict, FrozenList, freeze
from agent_engine_core.memory import Artifacts, Memory, MemoryStore

LEAVES = (str, bytes, int, float, complex, bool, type(None), enum.Enum, PurePath)
LIVE_STORES = (Memory, MemoryStore, Artifacts)
"""The engine's memory: its attributes are fixed, its contents change through ``append``/``put``, by design."""
MUTATORS = ("append", "extend", "insert", "remove", "pop", "popitem", "clear", "sort", "reverse", "update",
            "setdefault", "add", "discard", "__setitem__", "__delitem__")
"""Every method by which a list, dict or set changes in place."""
IN_PLACE = {"+=": (operator.iadd, []), "*=": (operator.imul, 1), "|=": (operator.ior, {}), "-=": (operator.isub, set())}
"""In-place operators, with an operand: one changes its target when it returns the target itself."""

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text("ab", max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("xyz", min_size=1, max_size=2), inner,
                                                                 max_size=3),
    max_leaves=8,
)


@st.composite
def projects(draw: st.DrawFn) -> dict[str, Any]:
    """A valid project: a generated workflow plus the other manifests, with nested JSON wherever it is allowed."""
    workflow = draw(workflows())
    node_ids = [node["id"] for node in workflow["nodes"]]
    for node in workflow["nodes"]:
        if node["role"] not in ("decision", "exit") and draw(st.booleans()):
            node["schema_out"] = {"type": "object", "required": [], "properties": {"x": {"enum": [1, [2]]}}}
        if node["role"] not in ("exit",) and draw(st.booleans()):
            node["context"] = "recent"
    agents = [{"id": f"a{i}", "llm": "scripted/m", "config": {"responses": {}, "extra": draw(json_values)}}
              for i in range(draw(st.integers(0, 2)))]
    return {
        "workflow": workflow,
        "agents": {"agents": agents},
        "memory": {"context_profiles": [
            {"id": "recent", "sources": [{"store": "task", "tags": draw(st.lists(st.text("tg", min_size=1),
                                                                                 max_size=2))}]}]},
        "policy": {"policies": [{"name": "p", "rules": [
            {"target": "node", "target_id": draw(st.sampled_from(node_ids)), "action": "allow",
             "nodes": draw(st.lists(st.sampled_from(node_ids), max_size=2))}]}]},
        "plugins": {"plugins": [{"id": "log", "config": {"level": "debug"}}]} if draw(st.booleans()) else {},
        "scheduler": {"scheduler": {"fanout_concurrency": draw(st.integers(1, 4))}},
        "schemas": {"extra": {"type": "object", "properties": {"tags": {"type": "array"}}, "required": ["tags"]}},
    }


def _user_owned(value: Any) -> bool:
    """Functions, classes, modules, and objects whose type the core does not define (handlers, providers, plugins)."""
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type)):
        return True
    module = type(value).__module__
    return not (module == "builtins" or module.startswith("agent_engine_core"))


FRESH_COPIES = frozenset({"input", "output", "error", "details", "payload", "result"})
"""Properties of records, results and events documented to decode a fresh copy on every read (the history keeps
text): what they return belongs to the caller, and ``test_every_fresh_copy_is_the_callers_own`` checks them."""


def _children(value: Any) -> Iterator[tuple[str, Any]]:
    """The objects ``value`` hands out, each with the step that reaches it (for the failure message)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield f"[{key!r}]", item
            yield f"<key {key!r}>", key
    elif isinstance(value, (tuple, list, frozenset, set)):
        yield from ((f"[{index}]", item) for index, item in enumerate(value))
    if isinstance(value, BaseModel):
        names = [*type(value).model_fields, *_properties(type(value))]
    elif isinstance(value, (tuple, list, dict, frozenset, set, types.MappingProxyType)):
        names = list(getattr(type(value), "_fields", ()))  # a named tuple's fields
    else:
        names = _public_attributes(value)
    if not isinstance(value, BaseModel):
        names = [name for name in names if name not in FRESH_COPIES or not _is_property(type(value), name)]
    yield from ((f".{name}", getattr(value, name)) for name in names)


def _is_property(cls: type, name: str) -> bool:
    return isinstance(inspect.getattr_static(cls, name, None), property)


def _properties(cls: type) -> list[str]:
    """The public properties a model class defines itself (pydantic's own ``model_*`` machinery is not data)."""
    return [name for name, _ in inspect.getmembers(cls, lambda m: isinstance(m, property))
            if not name.startswith(("_", "model_"))]


def _public_attributes(value: Any) -> list[str]:
    """Public attribute names of ``value`` that are data, not methods."""
    return [name for name in dir(value)
            if not name.startswith("_") and not inspect.isroutine(getattr(value, name))]


def _attempts(value: Any) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Every way of changing ``value`` in place that its type offers."""
    if isinstance(value, (tuple, frozenset)) and not hasattr(type(value), "_fields"):
        return  # immutable types (their items are walked on their own)
    for step, _ in _children(value):
        if step.startswith("."):
            name = step[1:]
            yield f"setattr {name}", lambda n=name: setattr(value, n, getattr(value, n))
            yield f"delattr {name}", lambda n=name: delattr(value, n)
    yield "setattr of a new attribute", lambda: setattr(value, "planted", 1)
    if isinstance(value, Mapping):
        key = next(iter(value), "planted")
        yield "item assignment", lambda: value.__setitem__(key, None)  # type: ignore[attr-defined]
        if key in value:
            yield "item deletion", lambda: value.__delitem__(key)  # type: ignore[attr-defined]
    elif isinstance(value, (list, tuple)) and value:
        yield "item assignment", lambda: value.__setitem__(0, value[0])  # type: ignore[index]
    for method in MUTATORS:
        bound = getattr(value, method, None)
        if callable(bound):
            yield method, lambda m=bound: _call_mutator(m)
    for symbol, (op, operand) in IN_PLACE.items():
        yield symbol, lambda op=op, operand=operand: _in_place(op, value, operand)


def _in_place(op: Callable[[Any, Any], Any], value: Any, operand: Any) -> None:
    """Apply an in-place operator; raises unless it changed ``value`` itself (a new object is no change)."""
    if op(value, operand) is not value:
        raise TypeError("read-only: the operator made a new object")


def _call_mutator(method: Callable[..., Any]) -> None:
    """Call ``method`` with an argument shape it accepts; returns (the change happened) unless it refuses.

    A read-only refusal raises out of here; any other error (the wrong arguments, a missing key) moves on to the
    next shape, and a method no shape fits changed nothing.
    """
    for args in ((), (None,), ([],), ({},), (0, None)):
        try:
            method(*args)
        except TypeError as exc:
            if "read-only" in str(exc):
                raise
        except Exception:  # e.g. KeyError from pop(None): this shape changed nothing
            pass
        else:
            return
    raise TypeError(f"read-only: no call of {method} changes anything")


def mutable_paths(engine: Engine) -> list[str]:
    """``path: attempt`` for every change to an object reachable from ``engine`` that did not raise."""
    roots = {f"engine.{name}": getattr(engine, name) for name in _public_attributes(engine)}
    roots |= {f"engine.components.of({c!r})": engine.components.of(c) for c in CATEGORIES.values()}
    return mutable_paths_from(roots)


def mutable_paths_from(roots: Mapping[str, Any]) -> list[str]:
    """``path: attempt`` for every change to an object reachable from ``roots`` (path -> object) that did not raise."""
    stack = list(roots.items())
    found: list[str] = []
    seen: set[int] = set()
    keep: list[Any] = []  # what ``seen`` holds the ids of stays alive, so an id is never reused
    while stack:
        path, value = stack.pop()
        if id(value) in seen or isinstance(value, LEAVES) or _user_owned(value):
            continue
        seen.add(id(value))
        keep.append(value)
        if type(value) in (set, list, dict):
            found.append(f"{path}: a plain {type(value).__name__}")
        live = isinstance(value, LIVE_STORES)  # a store's contents change (append, put); its attributes do not
        for what, attempt in _attempts(value):
            if live and not what.startswith("setattr"):
                continue
            try:
                attempt()
            except (TypeError, AttributeError, ValueError):  # pydantic's frozen-instance error is a ValueError
                continue
            found.append(f"{path}: {what}")
        stack.extend((path + step, child) for step, child in _children(value) if not (live and step == ".backend"))
    return found


@settings(max_examples=25, deadline=None)
@given(projects())
def test_nothing_reachable_from_an_engine_can_be_changed(manifests: dict[str, Any]) -> None:
    with Engine.from_dict(manifests, handlers=HANDLERS) as engine:
        assert mutable_paths(engine) == []


def test_the_walk_reaches_deep_values_and_would_report_a_mutable_one() -> None:
    """The walk is not vacuous: it reaches a node's tools and an agent's nested config, and flags a plain list."""
    manifests = {
        "workflow": {"version": "1.0", "nodes": [
            {"id": "s", "role": "start"}, {"id": "e", "role": "exit"}], "edges": [{"from": "s", "to": "e"}]},
        "agents": {"agents": [{"id": "a", "llm": "scripted/m", "config": {"deep": {"list": [1, {"x": []}]}}}]},
    }
    with Engine.from_dict(manifests) as engine:
        config = engine.project.agents.agents[0].config
        with pytest.raises(TypeError, match="read-only"):
            config["deep"]["list"][1]["x"].append(1)
        with pytest.raises(AttributeError):
            engine.dag.nodes["s"].spec.tools.append("t")  # type: ignore[attr-defined]
        assert copy.deepcopy(config)["deep"]["list"].append(2) is None  # a copy is the caller's, to change
        assert engine.project.agents.agents[0].model_dump()["config"] == {"deep": {"list": [1, {"x": []}]}}
        assert mutable_paths(engine) == []
        engine._project = dataclasses.replace(engine.project, schemas={"planted": {"type": "object"}})
        found = mutable_paths(engine)
        assert {f"engine.project.schemas: {what}" for what in ("a plain dict", "item assignment", "update", "|=")
                } <= set(found)
        assert all(path.startswith("engine.project.schemas") for path in found)


def test_components_and_plugins_are_views_not_the_registry() -> None:
    manifests = {"workflow": {"version": "1.0", "nodes": [
        {"id": "s", "role": "start"}, {"id": "e", "role": "exit"}], "edges": [{"from": "s", "to": "e"}]}}
    with Engine.from_dict(manifests) as engine:
        assert "scripted" in engine.components.llm_providers
        with pytest.raises(TypeError):
            engine.components.of("llm_provider")["fake"] = None  # type: ignore[index]
        assert not hasattr(engine.components, "add")
        with pytest.raises(AttributeError):
            engine.plugins.loaded.append(None)  # type: ignore[attr-defined]
        assert not hasattr(engine.plugins.manager, "register")
        assert any(getattr(p, "__name__", "") == "agent_engine_core._plugins.builtins"
                   for p in engine.plugins.manager.get_plugins())
        with pytest.raises(AttributeError):
            engine.components = None  # type: ignore[misc]


@given(json_values)
def test_frozen_json_reads_writes_and_copies_as_the_value_it_froze(value: Any) -> None:
    """Frozen JSON equals its value, encodes to the same text, pickles frozen and deep-copies to plain data."""
    frozen = freeze(copy.deepcopy(value))
    assert frozen == value
    assert json.dumps(frozen, sort_keys=True) == json.dumps(value, sort_keys=True)
    assert dumps(frozen) == dumps(value)
    assert mutable_paths_from({"value": frozen}) == []
    thawed = copy.deepcopy(frozen)
    assert thawed == value
    assert all(type(v) in (dict, list) for v in _containers(thawed))
    restored = pickle.loads(pickle.dumps(frozen))
    assert restored == value
    assert all(type(v) in (FrozenDict, FrozenList) for v in _containers(restored))


def test_frozen_schemas_validate_as_the_plain_ones() -> None:
    schema = {"type": "object", "required": ["tags"], "properties": {"tags": {"type": "array", "items": [
        {"type": "string"}]}, "kind": {"enum": ["a", ["b"]]}}}
    frozen = freeze(copy.deepcopy(schema))
    jsonschema.Draft7Validator.check_schema(frozen)
    for instance in ({"tags": ["x"], "kind": ["b"]}, {"tags": "x"}, {}, {"tags": [1], "kind": "c"}):
        assert (sorted(e.message for e in jsonschema.Draft7Validator(frozen).iter_errors(instance))
                == sorted(e.message for e in jsonschema.Draft7Validator(schema).iter_errors(instance)))


def _containers(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _containers(item)
    elif isinstance(value, list):
        yield value
        for item in value:
            yield from _containers(item)


@pytest.mark.parametrize("example", ["hello", "map_reduce"])
def test_nothing_reachable_from_an_example_project_loaded_from_disk_can_be_changed(example: str) -> None:
    """A project read from YAML files (sources with their documents, schema files) hands out nothing mutable."""
    with Engine.from_config_dir(Path(__file__).parent.parent / "examples" / example) as engine:
        assert any(source.document is not None for source in engine.project.sources.values())
        assert engine.project.schemas
        assert mutable_paths(engine) == []


def test_the_engines_memory_cannot_be_rebound_and_still_takes_items() -> None:
    with Engine.from_dict({"workflow": {"version": "1.0", "nodes": [{"id": "s", "role": "start"},
                                                                      {"id": "x", "role": "exit"}],
                                        "edges": [{"from": "s", "to": "x"}]}}) as engine:
        for target, name in ((engine.memory, "project"), (engine.memory, "artifacts"),
                             (engine.memory.project, "backend"), (engine.memory.task, "name"),
                             (engine.artifacts, "_backend")):
            with pytest.raises(AttributeError, match="is read-only"):
                setattr(target, name, None)
        with pytest.raises(AttributeError):
            del engine.memory.project
        engine.memory.project.append({"kept": True}, tags=["t"])
        assert [item.payload for item in engine.memory.project.query(tags=["t"])] == [{"kept": True}]



# ---- results ---------------------------------------------------------------------------------------------------

def _result_engine() -> tuple[Engine, Any]:
    from _agent_kit import TOOLS, Kit, Script, reply

    def work(payload: Any, ctx: Any) -> Any:
        if payload == "fail":
            raise ValueError("asked to fail")
        return {"item": payload, "sum": ctx.tools.add(a=1, b=2).output}

    workflow = {"version": "1.0", "nodes": [
        {"id": "s", "role": "start"}, {"id": "sp", "role": "split"},
        {"id": "w", "role": "linear", "handler": "h:work", "tools": ["add"]},
        {"id": "m", "role": "merge", "merge": {"on_failure": "include_failures"}},
        {"id": "ask", "role": "linear", "kind": "agent", "agent_id": "bot"}, {"id": "x", "role": "exit"}],
        "edges": [{"from": "s", "to": "sp"}, {"from": "sp", "to": "w"}, {"from": "w", "to": "m"},
                  {"from": "m", "to": "ask"}, {"from": "ask", "to": "x"}]}
    kit = Kit(Script(*[reply({"done": True})] * 200))
    engine = Engine.from_dict({"workflow": workflow, "tools": TOOLS,
                               "agents": {"agents": [{"id": "bot", "llm": "scriptable/m-1", "prompt": "Sum up."}]}},
                              handlers={"h:work": work}, plugins=[kit])
    return engine, kit


@pytest.fixture(scope="module")
def result_engine() -> Iterator[Engine]:
    engine, _ = _result_engine()
    with engine:
        yield engine


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(json_values | st.just("fail"), min_size=1, max_size=4))
def test_nothing_reachable_from_a_task_result_can_be_changed(result_engine: Engine, items: list[Any]) -> None:
    result = result_engine.run(["ok", *items], run_id="frozen")  # one child that succeeds: the merge runs
    assert len(result.trace.records) > 4  # a split, its children, their tool calls, a merge and an agent call
    roots = {f"result.{name}": getattr(result, name) for name in _public_attributes(result)
             if name not in FRESH_COPIES}
    assert mutable_paths_from(roots) == []


def test_every_fresh_copy_is_the_callers_own(result_engine: Engine) -> None:
    result = result_engine.run(["a", "fail"], run_id="fresh")
    owners = [result, *result.trace.records, *result.trace.tasks,
              *(call for r in result.trace.records for call in (*r.agent_calls, *r.tool_calls))]
    owners += [r.error for r in result.trace.records if r.error is not None]
    checked = 0
    for owner in owners:
        for name in sorted(FRESH_COPIES):
            if not _is_property(type(owner), name):
                continue
            first, second = getattr(owner, name), getattr(owner, name)
            assert first == second
            if isinstance(first, dict | list):
                assert first is not second
                first.clear()
                assert getattr(owner, name) == second  # the owner still reads what it recorded
                checked += 1
    assert checked >= 10
