"""Tool sets and the tool lifecycle: one tools.yaml entry giving several tools, what they record, per-run scope.

The contract of ``agent_engine_core.tools`` beyond a single tool: a factory returning a ``ToolSet`` (its tools
bound as ``<entry id>.<name>``), ``describe``/``finish_run``/``close``, ``ToolResult.meta`` in the trace but not
in what a model is sent, ``current_scope()``, ``ToolSetup.credential``, and replays that answer ``external``
tools from the recording.
"""

from __future__ import annotations

import json
import threading
import types
from typing import Any

import pytest
from _workflows import edges, node, scripted_agents, workflow

from agent_engine_core import Engine, ManifestError, ReplayMismatch, Status, hookimpl
from agent_engine_core.records import Trace
from agent_engine_core.secrets import Secret
from agent_engine_core.tools import ToolResult, ToolSetup, current_scope

ADD_SCHEMA = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
              "required": ["a", "b"], "additionalProperties": False}


class Member:
    """One tool of the pack: counts its calls, remembers the scope it ran in, records a ``meta``."""

    def __init__(self, pack: Pack, name: str, *, external: bool) -> None:
        self.pack, self.name, self.external = pack, name, external
        self.description = f"the pack's {name}"
        self.parameters = ADD_SCHEMA if name == "add" else {"type": "object"}

    def invoke(self, arguments: dict[str, Any]) -> ToolResult:
        with self.pack.lock:
            self.pack.calls.append((self.name, current_scope()))
        if self.name == "add":
            return ToolResult.ok(arguments["a"] + arguments["b"], meta={"answered_by": "pack 1.0"})
        return ToolResult.ok(arguments)


class Pack:
    """What the ``test.pack`` factory returns: a ``ToolSet`` with the optional lifecycle methods."""

    def __init__(self, setup: ToolSetup) -> None:
        self.setup = setup
        external = bool(setup.spec.config.get("external", True))
        self.tools = {name: Member(self, name, external=external) for name in ("add", "echo")}
        self.calls: list[tuple[str, Any]] = []
        self.finished: list[str] = []
        self.closed = 0
        self.lock = threading.Lock()
        credential = setup.spec.config.get("credential")
        self.secret = None if credential is None or setup.credential is None else setup.credential(credential)

    def describe(self) -> dict[str, Any]:
        return {"server": {"name": "pack", "version": "1.0"}, "for_replay": self.setup.for_replay}

    def finish_run(self, run_id: str) -> None:
        self.finished.append(run_id)

    def close(self) -> None:
        self.closed += 1


def pack_plugin() -> tuple[types.ModuleType, list[Pack]]:
    built: list[Pack] = []
    module = types.ModuleType("pack_plugin")

    def make(setup: ToolSetup) -> Pack | Member:
        built.append(Pack(setup))
        return built[-1].tools["add"] if setup.spec.config.get("single") else built[-1]

    @hookimpl
    def register_tools(register):
        register("test.pack", make)

    module.register_tools = register_tools
    return module, built


def add_twice(payload, ctx):
    first = ctx.tools["calc.add"](a=payload["a"], b=1)
    second = ctx.tools["calc.add"](a=first.output, b=1)
    return {"sum": second.output}


def pack_engine(*, tools_entry: dict[str, Any] | None = None, handler: Any = add_twice, for_replay: bool = False,
                **manifests: Any) -> tuple[Engine, list[Pack]]:
    plugin, built = pack_plugin()
    wf, handlers = workflow(
        [node("s", "start"), node("work", "linear", handler, tools=["calc.add"]),
         node("ask", "linear", kind="agent", agent_id="clerk", tools=["calc.add"]), node("x", "exit")],
        edges(("s", "work"), ("work", "ask"), ("ask", "x")))
    agents = scripted_agents({"ask": {"done": True}}, tool_calls={
        "ask": [{"name": "calc.add", "arguments": {"a": 2, "b": 3}}]})
    entry = tools_entry or {"id": "calc", "type": "test.pack"}
    made = Engine.from_dict({"workflow": wf, "agents": agents, "tools": {"tools": [entry]}, **manifests},
                            handlers=handlers, plugins=[plugin], runs=False, for_replay=for_replay)
    return made, built


def stage_of(result, node_id):
    return next(r for r in result.trace if r.node_id == node_id)


def test_the_tools_of_a_set_are_bound_as_entry_dot_name_for_handlers_and_agents():
    engine, (pack,) = pack_engine()
    with engine:
        result = engine.run({"a": 40}, run_id="r1")
    assert result.status is Status.SUCCESS, result.error
    assert stage_of(result, "work").output == {"sum": 42}
    ask = stage_of(result, "ask")
    request = json.loads(ask.agent_calls[0].request_json)
    assert request["tools"] == [{"name": "calc.add", "description": "the pack's add", "parameters": ADD_SCHEMA}]
    assert [c.tool_id for c in ask.tool_calls] == ["calc.add"] and ask.tool_calls[0].output_json == "5"
    assert [name for name, _ in pack.calls] == ["add", "add", "add"]


def test_each_call_knows_its_run_task_and_node_and_each_run_is_finished_once():
    engine, (pack,) = pack_engine()
    with engine:
        engine.run({"a": 1}, run_id="first")
        engine.run({"a": 1}, run_id="second")
        assert pack.closed == 0
    assert [(s.run_id, s.task_id, s.node_id) for _, s in pack.calls] == [
        ("first", "first", "work"), ("first", "first", "work"), ("first", "first", "ask"),
        ("second", "second", "work"), ("second", "second", "work"), ("second", "second", "ask")]
    assert pack.finished == ["first", "second"]
    assert pack.closed == 1


def test_a_run_that_fails_is_finished_too():
    def broken(payload, ctx):
        ctx.tools["calc.add"](a=1, b=1)
        raise RuntimeError("handler bug")

    engine, (pack,) = pack_engine(handler=broken)
    with engine:
        assert engine.run({}, run_id="bad").status is Status.FAILURE
    assert pack.finished == ["bad"]


def test_meta_is_recorded_in_the_trace_and_events_but_not_sent_to_the_model():
    engine, _ = pack_engine()
    with engine:
        result = engine.run({"a": 1}, run_id="m")
    ask = stage_of(result, "ask")
    assert ask.tool_calls[0].to_dict()["meta"] == {"answered_by": "pack 1.0"}
    assert '"meta":{"answered_by":"pack 1.0"}' in result.trace.canonical().decode()
    tool_message = json.loads(ask.agent_calls[1].request_json)["messages"][-1]
    assert json.loads(tool_message["content"]) == {"status": "success", "output": 2 + 3, "error": None}
    again = Trace.from_dict(json.loads(json.dumps(result.to_dict(with_trace=True)))["trace"])
    assert again.digest == result.trace.digest

    events: list[Any] = []
    observer = types.SimpleNamespace(on_event=hookimpl(lambda event: events.append(event.to_dict())))
    plugin, _ = pack_plugin()
    wf, handlers = workflow([node("s", "start"), node("work", "linear", add_twice, tools=["calc.add"]),
                             node("x", "exit")], edges(("s", "work"), ("work", "x")))
    with Engine.from_dict({"workflow": wf, "tools": {"tools": [{"id": "calc", "type": "test.pack"}]}},
                          handlers=handlers, plugins=[plugin, observer], runs=False) as watched:
        direct = watched.run({"a": 1}, run_id="ev")
    invoked = [e for e in events if e["type"] == "tool_invoked"]
    assert [e["result"]["meta"] for e in invoked] == [{"answered_by": "pack 1.0"}] * 2
    assert Trace.from_events(events).digest == direct.trace.digest


def test_a_call_without_meta_has_no_meta_key_so_earlier_traces_keep_their_digest():
    plugin, _ = pack_plugin()
    echo = node("work", "linear", lambda p, ctx: ctx.tools["calc.echo"](x=1).output, tools=["calc.echo"])
    wf, handlers = workflow([node("s", "start"), echo, node("x", "exit")], edges(("s", "work"), ("work", "x")))
    with Engine.from_dict({"workflow": wf, "tools": {"tools": [{"id": "calc", "type": "test.pack"}]}},
                          handlers=handlers, plugins=[plugin], runs=False) as echoing:
        result = echoing.run({})
    (call,) = stage_of(result, "work").tool_calls
    assert "meta" not in call.to_dict() and "meta" not in call.stored()
    assert '"meta"' not in result.trace.canonical().decode()


def test_describe_goes_into_the_metadata_with_the_type_and_distribution():
    engine, _ = pack_engine()
    with engine:
        described = engine.metadata["tools"]["calc"]
        assert dict(described["server"]) == {"name": "pack", "version": "1.0"}
        assert described["type"] == "test.pack" and described["for_replay"] is False
        assert described["distribution"]
        assert engine.run({"a": 1}).metadata["tools"] == engine.metadata["tools"]


def test_a_set_member_not_exposed_or_misspelt_is_a_located_load_error():
    plugin, _ = pack_plugin()
    wf, handlers = workflow([node("s", "start"), node("work", "linear", add_twice, tools=["calc.sub"]),
                             node("x", "exit")], edges(("s", "work"), ("work", "x")))
    with pytest.raises(ManifestError) as caught:
        Engine.from_dict({"workflow": wf, "tools": {"tools": [{"id": "calc", "type": "test.pack"}]}},
                         handlers=handlers, plugins=[plugin], runs=False)
    (issue,) = caught.value.issues
    assert issue.code == "dag.unknown_tool" and "'calc.sub'" in issue.message


def test_a_set_whose_factory_fails_is_reported_once_not_again_at_every_reference():
    plugin = types.ModuleType("failing_pack")

    def make(setup):
        raise ValueError("the server did not start")

    plugin.register_tools = hookimpl(lambda register: register("test.pack", make))
    wf, handlers = workflow([node("s", "start"), node("work", "linear", add_twice, tools=["calc.add", "calc.sub"]),
                             node("x", "exit")], edges(("s", "work"), ("work", "x")))
    with pytest.raises(ManifestError) as caught:
        Engine.from_dict({"workflow": wf, "tools": {"tools": [{"id": "calc", "type": "test.pack"}]}},
                         handlers=handlers, plugins=[plugin], runs=False)
    assert [(i.code, i.message) for i in caught.value.issues] == [
        ("tools.bad_config", "tool 'calc': the server did not start")]


def test_a_description_on_an_entry_giving_several_tools_is_refused():
    with pytest.raises(ManifestError) as caught:
        pack_engine(tools_entry={"id": "calc", "type": "test.pack", "description": "a calculator"})
    assert [i.code for i in caught.value.issues] == ["tools.bad_config"]
    assert "description applies to a single tool" in caught.value.issues[0].message


def test_a_factory_reads_a_credential_as_a_secret_and_an_unknown_one_is_located(monkeypatch):
    monkeypatch.setenv("PACK_TOKEN", "pack-token-value-1234")
    credentials = {"provider_credentials": [
        {"id": "pack_token", "provider": "mcp", "auth": {"type": "api_key", "source": "env", "env_var": "PACK_TOKEN"}}]}
    entry = {"id": "calc", "type": "test.pack", "config": {"credential": "pack_token"}}
    engine, (pack,) = pack_engine(tools_entry=entry, provider_credentials=credentials)
    with engine:
        assert isinstance(pack.secret, Secret) and pack.secret.reveal() == "pack-token-value-1234"
        assert "pack-token-value-1234" not in repr(pack.secret)
    with pytest.raises(ManifestError) as caught:
        pack_engine(tools_entry={"id": "calc", "type": "test.pack", "config": {"credential": "pack_tokn"}},
                    provider_credentials=credentials)
    (issue,) = caught.value.issues
    assert issue.code == "tools.bad_config"
    assert issue.message == ("tool 'calc': credential 'pack_tokn' is not defined in <provider_credentials>; "
                             "did you mean 'pack_token'?")


def test_a_replay_answers_external_tools_from_the_recording_and_runs_the_others_again():
    engine, (pack,) = pack_engine()
    with engine:
        recorded = engine.run({"a": 1}, run_id="rec")
        pack.calls.clear()
        replayed = engine.replay(recorded.trace)
        assert replayed.trace.digest == recorded.trace.digest
        assert pack.calls == []
    local, (local_pack,) = pack_engine(tools_entry={"id": "calc", "type": "test.pack", "config": {"external": False}})
    with local:
        recorded = local.run({"a": 1}, run_id="rec")
        local_pack.calls.clear()
        assert local.replay(recorded.trace).trace.digest == recorded.trace.digest
        assert len(local_pack.calls) == 3


def test_a_replay_whose_tool_call_changed_names_the_stage():
    engine, _ = pack_engine()
    with engine:
        recorded = engine.run({"a": 1}, run_id="rec")
        edited = recorded.to_dict(with_trace=True)["trace"]
        work = next(r for r in edited["records"] if r["node_id"] == "work")
        work["tool_calls"][0]["arguments"] = {"a": 7, "b": 1}  # the replay calls with a=1: not in the recording
        with pytest.raises(ReplayMismatch) as caught:
            engine.replay(edited)
    assert caught.value.node_id == "work"
    assert str(caught.value).endswith("tool_calls")


def test_for_replay_reaches_the_factory():
    engine, (pack,) = pack_engine(for_replay=True)
    with engine:
        assert pack.setup.for_replay is True and engine.metadata["tools"]["calc"]["for_replay"] is True


def test_a_member_id_that_another_entry_already_has_is_a_duplicate():
    with pytest.raises(ManifestError) as caught:
        pack_engine(tools_entry={"id": "calc", "type": "test.pack"},
                    tools={"tools": [{"id": "calc.add", "type": "test.pack", "config": {"single": True}},
                                     {"id": "calc", "type": "test.pack"}]})
    assert [(i.code, i.message) for i in caught.value.issues] == [
        ("tools.duplicate_id", "tool id 'calc.add' is used twice")]
