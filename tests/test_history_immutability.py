"""Nothing a handler or a caller does to values it holds can change recorded history.

Stage inputs and outputs are kept as JSON text from the moment a stage ends; records and results are frozen,
and every read of a payload decodes a fresh copy.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from _workflows import engine, node, stage, stages
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_core import Status

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


def test_mutating_a_returned_output_later_cannot_change_history():
    kept: dict[str, dict] = {}

    def produce(payload, ctx):
        out = {"items": [1, 2], "meta": {"by": ctx.node_id}}
        kept["out"] = out
        return out

    def vandal(payload, ctx):
        kept["out"]["items"].append("hacked")  # the object the previous node returned
        kept["out"]["meta"] = None
        payload["items"].clear()  # and the input this node received
        return payload

    eng = engine([node("s", "start"), node("produce", "linear", handler=produce),
                  node("vandal", "linear", handler=vandal), node("x", "exit")],
                 [("s", "produce"), ("produce", "vandal"), ("vandal", "x")])
    result = eng.run(None, run_id="r")
    assert stage(result, "produce").output == {"items": [1, 2], "meta": {"by": "produce"}}
    assert stage(result, "vandal").input == {"items": [1, 2], "meta": {"by": "produce"}}
    assert stage(result, "vandal").output == {"items": [], "meta": {"by": "produce"}}
    assert kept["out"]["items"] == [1, 2, "hacked"]  # the vandal really did mutate that object


def test_mutating_the_input_in_place_does_not_rewrite_the_recorded_input():
    def in_place(payload, ctx):
        payload["n"] += 1
        payload["added"] = True
        return payload

    eng = engine([node("s", "start"), node("l", "linear", handler=in_place), node("x", "exit")],
                 [("s", "l"), ("l", "x")])
    result = eng.run({"n": 1}, run_id="r")
    assert stage(result, "s").output == {"n": 1}
    assert stage(result, "l").input == {"n": 1}
    assert stage(result, "l").output == {"n": 2, "added": True}


def test_the_caller_input_object_is_never_touched_or_shared():
    original = {"list": [1, 2]}

    def mutate(payload, ctx):
        payload["list"].append(3)
        return payload

    eng = engine([node("s", "start", handler=mutate), node("x", "exit")], [("s", "x")])
    result = eng.run(original, run_id="r")
    assert original == {"list": [1, 2]}
    original["list"].append("later")
    assert stage(result, "s").input == {"list": [1, 2]}


def test_each_clone_gets_its_own_copy_of_the_branch_output():
    def grab_and_mutate(payload, ctx):
        seen = list(payload["shared"])
        payload["shared"].append(ctx.lineage.index)
        return seen

    eng = engine(
        [node("s", "start"), node("b", "branch"), *(node(f"c{i}", "linear", handler=grab_and_mutate) for i in range(4)),
         node("m", "merge"), node("x", "exit")],
        [("s", "b"), *(("b", f"c{i}") for i in range(4)), *((f"c{i}", "m") for i in range(4)), ("m", "x")],
    )
    result = eng.run({"shared": []}, run_id="r")
    assert [item["output"] for item in result.output["merge_inputs"]] == [[], [], [], []]


def test_a_merge_handler_mutating_merge_inputs_leaves_child_records_alone():
    def merge(payload, ctx):
        for item in payload["merge_inputs"]:
            item["output"]["v"] = "overwritten"
            item["status"] = "failure"
        return len(payload["merge_inputs"])

    eng = engine(
        [node("s", "start"), node("sp", "split"), node("w", "linear", handler=lambda p, c: {"v": p}),
         node("m", "merge", handler=merge), node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "x")],
    )
    result = eng.run([1, 2], run_id="r")
    assert result.output == 2
    assert [r.output for r in stages(result, "w")] == [{"v": 1}, {"v": 2}]
    assert [i["status"] for i in stage(result, "m").input["merge_inputs"]] == ["success", "success"]
    children = [t for t in result.trace.tasks if t.task_id != "r"]
    assert [(t.status, t.output) for t in children] == [(Status.SUCCESS, {"v": 1}), (Status.SUCCESS, {"v": 2})]


def test_an_async_handler_mutating_its_output_after_returning_cannot_change_history():
    async def sneaky(payload, ctx):
        out = {"state": "returned"}
        loop = asyncio.get_running_loop()
        loop.call_soon(out.update, {"state": "changed after return"})
        return out

    async def later(payload, ctx):
        await asyncio.sleep(0.001)  # give the callback its chance
        return payload

    eng = engine([node("s", "start"), node("a", "linear", handler=sneaky), node("b", "linear", handler=later),
                  node("x", "exit")], [("s", "a"), ("a", "b"), ("b", "x")])
    result = eng.run(None, run_id="r")
    assert stage(result, "a").output == {"state": "returned"}
    assert result.output == {"state": "returned"}


@settings(max_examples=40, deadline=None)
@given(JSON)
def test_any_returned_value_is_recorded_as_returned_whatever_happens_to_it_later(value):
    kept: list = []

    def produce(payload, ctx):
        kept.append(value)
        return value

    def vandal(payload, ctx):
        held = kept[0]
        if isinstance(held, list):
            held.append("x")
        elif isinstance(held, dict):
            held["__vandal__"] = True

    eng = engine([node("s", "start"), node("p", "linear", handler=produce), node("v", "linear", handler=vandal),
                  node("x", "exit")], [("s", "p"), ("p", "v"), ("v", "x")])
    snapshot = json.loads(json.dumps(value))
    result = eng.run(None, run_id="r")
    assert stage(result, "p").output == snapshot
    assert stage(result, "v").input == snapshot


# ---- records and results are frozen ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished():
    def bad(payload, ctx):
        raise ValueError("x")

    eng = engine(
        [node("s", "start"), node("sp", "split"), node("w", "linear", handler=bad, continue_on_failure=True),
         node("m", "merge"), node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "x")],
    )
    return eng.run([{"a": [1]}, {"a": [2]}], run_id="r")


def test_results_records_and_their_parts_are_frozen(finished):
    record = stage(finished, "w", "r/sp#0")
    targets = [
        (finished, "status"), (finished, "output_json"), (finished.trace, "records"), (record, "output_json"),
        (record, "status"), (record.error, "message"), (finished.trace.tasks[1], "status"),
        (finished.trace.tasks[1].lineage, "path"), (finished.trace.tasks[1].lineage.path[0], "index"),
    ]
    for obj, attribute in targets:
        with pytest.raises(AttributeError):  # frozen dataclasses and named tuples alike
            setattr(obj, attribute, None)
    with pytest.raises((AttributeError, TypeError)):
        finished.new_attribute = 1  # slotted: no instance dict to sneak state into
    assert isinstance(finished.trace.records, tuple)
    assert isinstance(finished.trace.tasks, tuple)


def test_read_only_mappings_on_the_result(finished):
    with pytest.raises(TypeError):
        finished.metadata["engine_version"] = "0"
    with pytest.raises(TypeError):
        finished.metadata["manifests"]["workflow"] = "0"
    with pytest.raises(TypeError):
        finished.usage["agent_calls"] = 99


def test_every_read_of_a_payload_is_a_fresh_copy(finished):
    record = stage(finished, "w", "r/sp#0")
    digest = finished.trace.digest
    first, second = record.output, record.output
    assert first == second == {"a": [1]}
    assert first is not second
    first["a"].append("mutated")
    record.input["a"].append("mutated")
    finished.output["merge_inputs"].clear()
    finished.trace.tasks[1].output["a"] = None
    record.error.details["exception"] = "Mutated"
    assert record.output == {"a": [1]}
    assert record.input == {"a": [1]}
    assert len(finished.output["merge_inputs"]) == 2
    assert finished.trace.tasks[1].output == {"a": [1]}
    assert record.error.details == {"exception": "ValueError"}
    assert finished.trace.digest == digest


def test_result_error_is_a_fresh_copy(finished):
    assert finished.status is Status.PARTIAL
    error = finished.error
    error["kind"] = "mutated"
    error["details"]["exception"] = "Mutated"
    assert finished.error["kind"] == "handler"
    assert finished.error["details"] == {"exception": "ValueError"}
    assert finished.to_dict()["error"]["kind"] == "handler"


def test_to_dict_copies_cannot_reach_back_into_the_result(finished):
    as_dict = finished.to_dict()
    as_dict["output"]["merge_inputs"].clear()
    as_dict["metadata"]["manifests"]["workflow"] = "forged"
    trace_dict = finished.trace.to_dict()
    trace_dict["records"][0]["output"] = "forged"
    assert len(finished.output["merge_inputs"]) == 2
    assert finished.metadata["manifests"]["workflow"] != "forged"
    assert finished.trace.records[0].output != "forged"


# ---- an engine, once built, does not change ------------------------------------------------------------


@pytest.mark.parametrize("form", ["named", "inline"])
def test_mutating_schemas_after_build_does_not_change_the_engine(form):
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    ref = "request" if form == "named" else schema
    eng = engine([node("s", "start", schema_in=ref), node("x", "exit")], [("s", "x")], schemas={"request": schema})
    assert eng.run({"n": 1}).status is Status.SUCCESS
    schema["properties"]["n"]["type"] = "string"
    assert eng.run({"n": 1}).status is Status.SUCCESS


def test_a_flat_output_its_handler_kept_is_copied_before_the_next_stage_sees_it():
    # flat records of scalars are handed on without a decode only while nothing but the engine holds them
    kept: list[dict] = []

    def keep(payload, ctx):
        out = {"n": 1, "by": ctx.node_id}
        kept.append(out)
        return out

    def tamper_then_read(payload, ctx):
        kept[0]["n"] = 99  # the previous handler's object, changed after it returned
        return dict(payload)

    def hand_on(payload, ctx):
        return {"n": payload["n"] + 1}

    def mutate_in_place(payload, ctx):
        payload["n"] = -1  # a payload handed on undecoded is this handler's own to change
        return {"seen": payload["n"]}

    eng = engine([node("s", "start"), node("keep", "linear", handler=keep),
                  node("read", "linear", handler=tamper_then_read), node("next", "linear", handler=hand_on),
                  node("own", "linear", handler=mutate_in_place), node("x", "exit")],
                 [("s", "keep"), ("keep", "read"), ("read", "next"), ("next", "own"), ("own", "x")])
    result = eng.run(None, run_id="r")
    assert stage(result, "read").input == {"n": 1, "by": "keep"}
    assert stage(result, "read").output == {"n": 1, "by": "keep"}
    assert stage(result, "own").input == {"n": 2}
    assert stage(result, "next").output == {"n": 2}
    assert result.output == {"seen": -1}


# ---- nested outputs handed on undecoded ------------------------------------------------------------------


def test_a_nested_container_its_handler_kept_is_copied_before_the_next_stage_sees_it():
    kept: list[list] = []

    def keep_a_section(payload, ctx):
        sections = [{"body": "a"}, {"body": "b"}]
        kept.append(sections[1])  # a reference into the output tree, not to its root
        return {"rev": 1, "sections": sections}

    def tamper_then_read(payload, ctx):
        kept[0]["body"] = "tampered"
        return payload

    eng = engine([node("s", "start"), node("k", "linear", handler=keep_a_section),
                  node("t", "linear", handler=tamper_then_read), node("x", "exit")],
                 [("s", "k"), ("k", "t"), ("t", "x")])
    result = eng.run(None, run_id="r")
    assert stage(result, "t").input == {"rev": 1, "sections": [{"body": "a"}, {"body": "b"}]}
    assert result.output == {"rev": 1, "sections": [{"body": "a"}, {"body": "b"}]}


def test_a_container_twice_in_one_output_reaches_the_next_stage_as_two():
    def alias(payload, ctx):
        shared = [1]
        return {"a": shared, "b": {"inner": shared}}

    def append_to_a(payload, ctx):
        payload["a"].append(2)
        return payload

    eng = engine([node("s", "start"), node("al", "linear", handler=alias), node("ap", "linear", handler=append_to_a),
                  node("x", "exit")], [("s", "al"), ("al", "ap"), ("ap", "x")])
    assert eng.run(None, run_id="r").output == {"a": [1, 2], "b": {"inner": [1]}}  # as if decoded from the text


def test_an_edited_document_is_handed_on_whole_and_each_handler_owns_what_it_gets(monkeypatch):
    from agent_engine_core._run import stage as stage_module

    decoded: list[str] = []
    monkeypatch.setattr(stage_module, "loads", lambda text: decoded.append(text) or json.loads(text))

    def revise(payload, ctx):
        payload["sections"][0]["body"] += "!"  # the handler's own copy to change
        return {**payload, "rev": payload["rev"] + 1}

    eng = engine([node("s", "start"), *(node(f"r{i}", "linear", handler=revise) for i in range(3)),
                  node("x", "exit")], [("s", "r0"), ("r0", "r1"), ("r1", "r2"), ("r2", "x")])
    result = eng.run({"rev": 0, "sections": [{"body": "x"}]}, run_id="r")
    assert [stage(result, f"r{i}").input for i in range(3)] == [
        {"rev": i, "sections": [{"body": "x" + "!" * i}]} for i in range(3)]
    assert result.output == {"rev": 3, "sections": [{"body": "x!!!"}]}
    assert decoded == ['{"rev":0,"sections":[{"body":"x"}]}']  # the run's input, once: never a stage's output


@pytest.mark.parametrize("value, text", [
    ({"doc": {"ratio": 1e-7}}, '{"doc":{"ratio":1e-07}}'),  # the standard library's text, not orjson's 1e-7
    ({"doc": [0.00001, {"x": 2.5}]}, '{"doc":[1e-05,{"x":2.5}]}'),
    ({"doc": [True, None, "é", -3]}, '{"doc":[true,null,"é",-3]}'),
])
def test_a_handed_on_tree_is_recorded_in_the_canonical_text(value, text):
    def make(payload, ctx):
        return json.loads(json.dumps(value))  # a fresh tree that nothing else holds

    eng = engine([node("s", "start"), node("m", "linear", handler=make), node("x", "exit")],
                 [("s", "m"), ("m", "x")])
    result = eng.run(None, run_id="r")
    assert stage(result, "m").output_json == text
    assert stage(result, "x").input == value


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 2**64, -(2**63) - 1])
def test_a_nested_value_json_cannot_hold_still_fails_the_node(bad):
    def make(payload, ctx):
        return {"doc": {"sections": [{"n": bad}]}}

    eng = engine([node("s", "start"), node("m", "linear", handler=make), node("x", "exit")],
                 [("s", "m"), ("m", "x")])
    result = eng.run(None, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "handler"
    assert "not JSON" in result.error["message"]


@settings(max_examples=60, deadline=None)
@given(JSON, st.integers(0, 3))
def test_whatever_a_handler_does_to_a_handed_on_tree_the_history_holds_what_was_returned(value, mutations):
    def produce(payload, ctx):
        return json.loads(json.dumps({"v": value}))

    def mutate(payload, ctx):
        target = payload
        for _ in range(mutations):
            inner = target.get("v") if isinstance(target, dict) else target[0] if target else None
            if not isinstance(inner, dict | list):
                break
            target = inner
        if isinstance(target, dict):
            target["__mutated__"] = True
        else:
            target.append("__mutated__")
        return payload

    eng = engine([node("s", "start"), node("p", "linear", handler=produce), node("m", "linear", handler=mutate),
                  node("x", "exit")], [("s", "p"), ("p", "m"), ("m", "x")])
    result = eng.run(None, run_id="r")
    assert stage(result, "p").output == {"v": json.loads(json.dumps(value))}
    assert stage(result, "m").input == {"v": json.loads(json.dumps(value))}
    assert json.loads(stage(result, "m").output_json) == stage(result, "m").output
