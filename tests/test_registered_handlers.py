"""``register_node_handlers``: a plugin's handlers are named in ``handler:`` fields like imported ones."""

from __future__ import annotations

import types

import pytest

from agent_engine_core import ManifestError, PluginError, hookimpl


def workflow(handler: str) -> dict:
    return {"version": "1.0",
            "nodes": [{"id": "s", "role": "start"}, {"id": "work", "role": "linear", "handler": handler},
                      {"id": "e", "role": "exit"}],
            "edges": [{"from": "s", "to": "work"}, {"from": "work", "to": "e"}]}


def handler_plugin(**handlers) -> types.ModuleType:
    module = types.ModuleType("acme_handlers")

    @hookimpl
    def register_node_handlers(register):
        for name, function in handlers.items():
            register(name, function)

    module.register_node_handlers = register_node_handlers
    return module


@pytest.mark.parametrize("name", ["shout", "acme:shout"])
def test_a_handler_a_plugin_registers_resolves_by_its_name(make_engine, fake_entry_points, name):
    fake_entry_points(("acme", handler_plugin(**{name: lambda payload, ctx: payload.upper()}), "agent-engine-acme"))
    result = make_engine({"workflow": workflow(name)}).run("hi")
    assert result.status == "success"
    assert result.output == "HI"


def test_the_embedders_handler_of_the_same_name_wins(make_engine, fake_entry_points):
    fake_entry_points(("acme", handler_plugin(shout=lambda payload, ctx: "plugin"), "agent-engine-acme"))
    result = make_engine({"workflow": workflow("shout")}, handlers={"shout": lambda payload, ctx: "embedder"}).run(0)
    assert result.output == "embedder"


def test_an_unknown_bare_name_is_a_located_issue_with_a_near_miss(make_engine, fake_entry_points):
    fake_entry_points(("acme", handler_plugin(shout=lambda payload, ctx: payload), "agent-engine-acme"))
    with pytest.raises(ManifestError) as caught:
        make_engine({"workflow": workflow("shuot")})
    (issue,) = caught.value.issues
    assert issue.node_id == "work"
    assert issue.code == "dag.handler_import"
    assert "did you mean 'shout'?" in (issue.hint or "")


def test_two_plugins_registering_one_handler_name_is_an_error_naming_both(make_engine, fake_entry_points):
    fake_entry_points(("acme", handler_plugin(shout=lambda p, c: p), "agent-engine-acme"),
                      ("other", handler_plugin(shout=lambda p, c: p), "agent-engine-other"))
    with pytest.raises(PluginError, match="registered by both agent-engine-acme and agent-engine-other"):
        make_engine({"workflow": workflow("shout")})
