"""What the engine hands a handler (read-only views of its context and memory) can flow on as it is."""

from __future__ import annotations

import itertools

import pytest

from agent_engine_core import Engine


def profile(*sources, **fields):
    return {"id": "ctx", "sources": list(sources), **fields}


@pytest.mark.parametrize(("returned", "expected"), [
    (lambda ctx: ctx.context, [{"store": "task", "tags": ["s"], "payload": "hi"},
                               {"store": "task", "tags": ["a"], "payload": {"a": "hi"}}]),
    (lambda ctx: ctx.context[1]["payload"], {"a": "hi"}),
    (lambda ctx: {"kept": ctx.context[1], "more": [ctx.context[0]["tags"]]},
     {"kept": {"store": "task", "tags": ["a"], "payload": {"a": "hi"}}, "more": [["s"]]}),
])
def test_what_the_engine_hands_a_handler_can_be_returned_as_it_is(returned, expected):
    def give_back(payload, ctx):
        return returned(ctx)

    nodes = [{"id": "s", "role": "start"}, {"id": "a", "role": "linear", "handler": "h:a"},
             {"id": "back", "role": "linear", "handler": "h:back", "context": "ctx"}, {"id": "x", "role": "exit"}]
    ids = [n["id"] for n in nodes]
    workflow = {"version": "1.0", "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]}
    engine = Engine.from_dict({"workflow": workflow, "memory": {"context_profiles": [profile({"store": "task"})]}},
                              handlers={"h:a": lambda p, c: {"a": p}, "h:back": give_back})
    result = engine.run("hi", run_id="r")
    assert result.status == "success", result.error
    assert result.output == expected
