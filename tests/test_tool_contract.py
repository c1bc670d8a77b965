"""tools.yaml and the tool contract as handlers see it: ``ctx.tools``, the allowlist, misuse, the history."""

from __future__ import annotations

import pytest
from _agent_kit import TOOLS, Kit, Script, reply

from agent_engine_core import Engine, ManifestError, Status
from agent_engine_core.handler import ToolMisuse


def handler_engine(handler, tools, tool_entries=TOOLS["tools"]):
    kit = Kit(Script(reply({})))
    workflow = {"version": "1.0", "nodes": [
        {"id": "s", "role": "start"}, {"id": "work", "role": "linear", "handler": "h:work", "tools": tools},
        {"id": "x", "role": "exit"}], "edges": [{"from": "s", "to": "work"}, {"from": "work", "to": "x"}]}
    engine = Engine.from_dict({"workflow": workflow, "tools": {"tools": tool_entries}}, handlers={"h:work": handler},
                              plugins=[kit])
    return engine, kit


def work_record(result):
    return next(r for r in result.trace if r.node_id == "work")


def test_a_handler_calls_its_tools_and_every_call_is_in_the_history():
    def work(payload, ctx):
        total = ctx.tools.add(a=payload["a"], b=2)
        return {"total": total.output, "status": str(total.status), "listed": list(ctx.tools)}

    engine, _ = handler_engine(work, ["add", "upper"])
    result = engine.run({"a": 40})
    assert result.output == {"total": 42, "status": "success", "listed": ["add", "upper"]}
    (call,) = work_record(result).tool_calls
    assert call.to_dict() == {"tool_id": "add", "call_id": None, "arguments": {"a": 40, "b": 2},
                              "status": "success", "output": 42, "error": None}
    assert '"tool_calls":[{"tool_id":"add"' in result.trace.canonical().decode()


@pytest.mark.parametrize("swallow", [False, True])
def test_a_tool_outside_the_node_list_fails_the_node_even_when_the_handler_swallows_the_misuse(swallow):
    def work(payload, ctx):
        try:
            return ctx.tools.upper(text="x")
        except ToolMisuse:
            if not swallow:
                raise
            return "carried on"

    engine, kit = handler_engine(work, ["add"])
    result = engine.run({})
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "tool_misuse"
    assert result.error["message"] == "node 'work' may not use tool 'upper' (allowed: add)"
    assert kit.tool_log == []


def test_bad_arguments_and_refusals_from_handlers_are_misuse_and_recorded():
    engine, kit = handler_engine(lambda p, ctx: ctx.tools.add(a="1", b=2), ["add"])
    result = engine.run({})
    assert result.error["kind"] == "tool_misuse" and "at /a" in result.error["message"]
    assert [str(c.status) for c in work_record(result).tool_calls] == ["failure"]
    assert kit.tool_log == []
    refused, _ = handler_engine(lambda p, ctx: ctx.tools.refuse(), ["refuse"])
    assert refused.run({}).error["message"] == "path outside root"


def test_an_environment_error_is_returned_to_the_handler_which_decides():
    engine, _ = handler_engine(lambda p, ctx: ctx.tools.disk().to_dict(), ["disk"])
    result = engine.run({})
    assert result.status is Status.SUCCESS
    assert result.output == {"status": "error", "output": None, "error": "disk full"}


@pytest.mark.parametrize(("entries", "tools", "code", "hint"), [
    ([{"id": "add", "type": "kit.ad"}], ["add"], "tools.unknown_type",
     "installed tools: fs.list_dir, fs.read_file, fs.write_file, kit.add, kit.disk_full, kit.refuse, kit.upper, "
     "mcp, memory.write, net.http_get, proc.run_command; did you mean 'kit.add'?"),
    ([{"id": "add", "type": "kit.add"}, {"id": "add", "type": "kit.upper"}], ["add"], "tools.duplicate_id", None),
    ([{"id": "add", "type": "kit.add", "root": "does/not/exist"}], ["add"], "tools.bad_root",
     "create it, or fix the path (relative paths start at the config dir)"),
    ([{"id": "add", "type": "kit.add"}], ["sub"], "dag.unknown_tool", None),
])
def test_tool_manifest_problems_are_load_errors(entries, tools, code, hint):
    with pytest.raises(ManifestError) as caught:
        handler_engine(lambda p, c: p, tools, entries)
    issue = next(i for i in caught.value.issues if i.code == code)
    if hint is not None:
        assert issue.hint == hint
    assert issue.file in ("<tools>", "<workflow>")
