"""Memory as a run uses it: task memory, memory_write, artifacts, the embedder API, backends from memory.yaml."""

from __future__ import annotations

import itertools

import pytest
from _agent_kit import TOOLS, Kit, Script, reply

from agent_engine_core import Engine, ManifestError, Status, hookimpl


def chain(*nodes, memory=None, handlers=None, tools=False, plugins=()):
    specs = [{"id": "s", "role": "start"}, *nodes, {"id": "x", "role": "exit"}]
    ids = [n["id"] for n in specs]
    workflow = {"version": "1.0", "nodes": specs, "edges": [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]}
    manifests = {"workflow": workflow, **({"memory": memory} if memory else {}), **({"tools": TOOLS} if tools else {})}
    return Engine.from_dict(manifests, handlers=handlers or {}, plugins=[Kit(Script(reply({}))), *plugins])


def test_every_successful_stage_output_goes_to_task_memory_and_is_an_artifact():
    engine = chain({"id": "double", "role": "linear", "handler": "h:double", "schema_out": {"type": "integer"}},
                   handlers={"h:double": lambda p, c: p * 2})
    result = engine.run(21, run_id="r1")
    items = engine.memory.task.query(task_id="r1")
    assert [(i.tags, i.payload) for i in items] == [(("s",), 21), (("double",), 42), (("x",), 42)]
    assert {i.task_id for i in items} == {"r1"}  # the root task's id is the run id
    outputs = engine.artifacts.query(kind="node_output", task_id=result.task_id)
    assert [(a.node_id, a.payload) for a in outputs] == [("s", 21), ("double", 42), ("x", 42)]
    assert engine.artifacts.query(node_id="double")[0].schema is None  # an inline schema has no name
    for stored in (*items, *outputs):  # built positionally on the hot path: every field where its class says
        assert len(stored) == len(type(stored)._fields) and stored.metadata_json == "{}"
        assert isinstance(stored.created_at, float) and stored.project_id == engine.memory.project_id
    assert {i.store for i in items} == {"task"} and {i.id for i in items} == {"r1@0", "r1@1", "r1@2"}
    assert [a.id for a in outputs] == ["r1@0:output", "r1@1:output", "r1@2:output"]


def test_tool_results_are_artifacts_and_failed_stages_are_not_remembered():
    def work(payload, ctx):
        ctx.tools.add(a=1, b=2)
        raise ValueError("after the tool")

    engine = chain({"id": "work", "role": "linear", "handler": "h:work", "tools": ["add"]},
                   handlers={"h:work": work}, tools=True)
    result = engine.run({}, run_id="r2")
    assert result.status is Status.FAILURE
    assert [i.tags for i in engine.memory.task.query(task_id="r2")] == [("s",)]
    assert engine.artifacts.query(kind="tool_result") == []  # the stage failed: nothing of it is an artifact
    ok = chain({"id": "work", "role": "linear", "handler": "h:work", "tools": ["add"]},
               handlers={"h:work": lambda p, ctx: ctx.tools.add(a=1, b=2).output}, tools=True)
    ok.run({}, run_id="r3")
    (artifact,) = ok.artifacts.query(kind="tool_result")
    assert artifact.node_id == "work" and artifact.payload["output"] == 3


def test_memory_write_appends_the_output_to_project_or_global_memory():
    engine = chain({"id": "note", "role": "linear", "handler": "h:note", "memory_write": "project"},
                   {"id": "share", "role": "linear", "memory_write": "global"},
                   handlers={"h:note": lambda p, c: {"note": p}})
    engine.run("hello")
    assert [i.payload for i in engine.memory.project.query()] == [{"note": "hello"}]
    assert [i.payload for i in engine.memory.global_.query(tags=["share"])] == [{"note": "hello"}]


def test_embedders_write_and_query_project_and_global_memory():
    engine = chain()
    engine.memory.project.append({"style": "terse"}, tags=["style"])
    engine.memory.project.append({"fact": 1}, tags=["fact"], metadata={"source": "test"})
    engine.memory.store("global").append("shared")
    assert [i.payload for i in engine.memory.project.query(tags=["style"])] == [{"style": "terse"}]
    assert engine.memory.project.query(limit=1)[0].metadata == {"source": "test"}
    assert [i.payload for i in engine.memory.global_.query()] == ["shared"]
    assert engine.memory.project_id == "default"


def test_retention_bounds_task_memory_across_runs():
    engine = chain(memory={"memory": {"task_store": {"backend": "memory", "retention": {"max_items": 5}}}})
    for n in range(10):
        engine.run(n)
    assert [i.payload for i in engine.memory.task.query()] == [7, 8, 8, 9, 9]  # the newest 5 of 20


def test_memory_yaml_names_backends_that_must_exist_and_work(monkeypatch):
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")
    with pytest.raises(ManifestError) as caught:
        chain(memory={"memory": {"project_store": {"backend": "sqlite"}}})
    (issue,) = caught.value.issues
    assert issue.code == "memory.unknown_backend"
    assert issue.hint == ("installed memory backends: memory; 'sqlite' is provided by agent-engine-memory-sqlite: "
                          "pip install -e agent_engine_plugins/memory-sqlite "
                          "(from the root of the agent-engine repository)")

    class Broken:
        @hookimpl
        def register_memory_backends(self, register):
            def refuse(setup):
                raise OSError(f"cannot open {setup.config['path']}")
            register("broken", refuse)

    with pytest.raises(ManifestError) as caught:
        chain(memory={"memory": {"global_store": {"backend": "broken", "config": {"path": "/nowhere"}}}},
              plugins=(Broken(),))
    (issue,) = caught.value.issues
    assert issue.code == "memory.backend_unusable" and "cannot open /nowhere" in issue.message


def test_embedders_store_their_own_artifacts_of_the_known_kinds():
    engine = chain()
    stored = engine.artifacts.put("evaluation", "eval-1", '{"passed": true}', schema="report",
                                  metadata={"suite": "smoke"})
    assert engine.artifacts.query(kind="evaluation") == [stored]
    assert (stored.payload, stored.schema, stored.project_id) == ({"passed": True}, "report", "default")
    with pytest.raises(ValueError, match="unknown artifact kind 'screenshot'"):
        engine.artifacts.put("screenshot", "t", "null")
