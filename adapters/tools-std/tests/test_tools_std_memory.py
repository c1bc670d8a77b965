"""memory.write: a node or a model appends to project or global memory through a tool call."""

from __future__ import annotations

import pytest
from agent_engine_core import Engine, ManifestError, Status


def engine_with(config, handler):
    workflow = {"version": "1.0", "nodes": [
        {"id": "s", "role": "start"}, {"id": "keep", "role": "linear", "handler": "h:keep", "tools": ["remember"]},
        {"id": "x", "role": "exit"}], "edges": [{"from": "s", "to": "keep"}, {"from": "keep", "to": "x"}]}
    tools = {"tools": [{"id": "remember", "type": "memory.write", "config": config}]}
    return Engine.from_dict({"workflow": workflow, "tools": tools}, handlers={"h:keep": handler})


def test_memory_write_appends_to_the_configured_layer_with_its_tags():
    engine = engine_with({"store": "global", "tags": ["facts"]},
                         lambda p, ctx: ctx.tools.remember(payload={"fact": p}, tags=["moon"]).output)
    result = engine.run("the moon is far")
    assert result.status is Status.SUCCESS
    (item,) = engine.memory.global_.query(tags=["moon"])
    assert (item.payload, item.tags) == ({"fact": "the moon is far"}, ("facts", "moon"))
    assert result.output == {"id": item.id, "store": "global", "tags": ["facts", "moon"]}
    assert engine.memory.project.query() == []


def test_memory_write_refuses_unknown_layers_and_bad_arguments():
    with pytest.raises(ManifestError) as caught:
        engine_with({"store": "task"}, lambda p, ctx: p)
    assert "must be project or global" in caught.value.issues[0].message
    engine = engine_with({}, lambda p, ctx: ctx.tools.remember(tags=["no payload"]))
    assert engine.run(1).error["kind"] == "tool_misuse"
