"""How stage and task statuses are decided, and what a failure records (SPEC §4 Status, §3.1 handlers)."""

from __future__ import annotations

import copy
import itertools

import pytest
from _workflows import choose, constant, engine, fail, node, stage, stages

from agent_engine_core import NodeFailure, StageError, Status, TaskFailed


def chain(*middle, exit_fields=None):
    """start -> middle nodes (in order) -> exit."""
    nodes = [node("s", "start"), *middle, node("x", "exit", **(exit_fields or {}))]
    ids = [n["id"] for n in nodes]
    return engine(nodes, list(itertools.pairwise(ids)))


# ---- a failed node ends its task, unless it may continue -------------------------------------------------


def test_failure_ends_the_task_at_once():
    calls: list[object] = []
    eng = chain(node("bad", "linear", handler=fail("nope")),
                node("after", "linear", handler=lambda p, c: calls.append(p)))
    result = eng.run(1, run_id="r")
    assert result.status is Status.FAILURE
    assert calls == []
    assert [r.node_id for r in result.trace] == ["s", "bad"]
    assert result.error == {"node_id": "bad", "kind": "handler", "message": "nope", "details": {}}


def test_continue_on_failure_records_the_failure_passes_the_input_on_and_ends_partial():
    eng = chain(
        node("inc", "linear", handler=lambda p, c: p + 1),
        node("bad", "linear", handler=fail("nope", why="test"), continue_on_failure=True),
        node("after", "linear", handler=lambda p, c: p * 100),
    )
    result = eng.run(1, run_id="r")
    assert result.status is Status.PARTIAL
    bad = stage(result, "bad")
    assert bad.status is Status.FAILURE
    assert (bad.input, bad.output) == (2, 2)  # the input passes on as the output
    assert bad.error.kind == "handler"
    assert bad.error.details == {"why": "test"}
    assert stage(result, "after").input == 2
    assert stage(result, "x").status is Status.SUCCESS
    assert result.output == 200
    assert result.error["node_id"] == "bad"  # a partial result names its first failure


def test_a_failed_decision_cannot_continue():
    eng = engine(
        [node("s", "start"), node("d", "decision", handler=fail("undecided"), continue_on_failure=True),
         node("a", "linear"), node("b", "linear"), node("xa", "exit"), node("xb", "exit")],
        [("s", "d"), ("d", "a", "A"), ("d", "b", "B"), ("a", "xa"), ("b", "xb")],
    )
    result = eng.run(1, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "handler"
    assert [r.node_id for r in result.trace] == ["s", "d"]


def test_always_fail_exit_fails_the_task_with_a_structured_error_output():
    eng = chain(node("l", "linear", handler=constant({"draft": "text"})), exit_fields={"always_fail": True})
    result = eng.run(None, run_id="r")
    assert result.status is Status.FAILURE
    expected_error = {
        "node_id": "x",
        "kind": "exit",
        "message": "exit 'x' always fails",
        "details": {"output": {"draft": "text"}},
    }
    assert result.error == expected_error
    assert result.output == {"error": expected_error}
    assert stage(result, "x").status is Status.FAILURE


def test_always_fail_after_a_continued_failure_makes_the_task_failure():
    eng = chain(node("bad", "linear", handler=fail(), continue_on_failure=True), exit_fields={"always_fail": True})
    result = eng.run(5, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "exit"
    assert [r.status for r in result.trace] == [Status.SUCCESS, Status.FAILURE, Status.FAILURE]


def test_exit_without_always_fail_keeps_the_status_already_decided():
    ok = chain(node("l", "linear"))
    degraded = chain(node("l", "linear", handler=fail(), continue_on_failure=True))
    assert ok.run(1).status is Status.SUCCESS
    assert degraded.run(1).status is Status.PARTIAL


# ---- parents whose children ran without a merge ----------------------------------------------------------


def clones_without_merge(*handlers):
    names = [f"c{i}" for i in range(len(handlers))]
    return engine(
        [node("s", "start"), node("b", "branch"),
         *(node(n, "linear", handler=h) for n, h in zip(names, handlers, strict=True)),
         *(node(f"x{i}", "exit") for i in range(len(handlers)))],
        [("s", "b"), *(("b", n) for n in names), *((n, f"x{i}") for i, n in enumerate(names))],
    )


def test_clones_without_merge_succeed_with_the_first_successful_clone_by_edge_order():
    eng = clones_without_merge(fail(), constant("second"), constant("third"))
    result = eng.run(None, run_id="r")
    assert result.status is Status.SUCCESS
    assert result.output == "second"
    assert result.error is None
    assert [t.status for t in result.trace.tasks] == [Status.SUCCESS, Status.FAILURE, Status.SUCCESS,
                                                      Status.SUCCESS]


def test_clone_output_choice_ignores_finishing_order():
    from _workflows import sleepy

    eng = clones_without_merge(sleepy({0: 0.04}, lambda p: "first"), constant("second"))
    assert eng.run(None, run_id="r").output == "first"


def test_every_clone_failed_fails_the_parent_with_child_failure():
    result = clones_without_merge(fail(), fail()).run(None, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "child_failure"
    assert result.error["node_id"] == "b"
    assert result.error["details"] == {"failed": ["r/b#0", "r/b#1"]}


def subtasks_without_merge():
    def worker(payload, ctx):
        if payload < 0:
            raise NodeFailure("negative")
        return payload * 10

    return engine(
        [node("s", "start"), node("sp", "split"), node("w", "linear", handler=worker), node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "x")],
    )


@pytest.mark.parametrize(
    ("items", "status", "output"),
    [
        ([1, 2, 3], Status.SUCCESS, [10, 20, 30]),
        ([1, -2, 3], Status.PARTIAL, [10, None, 30]),
        ([-1, -2], Status.FAILURE, None),
    ],
    ids=["all", "some", "none"],
)
def test_subtasks_without_merge_status_by_count_output_by_index(items, status, output):
    result = subtasks_without_merge().run(items, run_id="r")
    assert result.status is status
    assert result.output == output
    if status is Status.FAILURE:
        assert result.error["kind"] == "child_failure"
    elif status is Status.PARTIAL:
        assert result.error["message"] == "negative"
    else:
        assert result.error is None


# ---- what a failure records ------------------------------------------------------------------------------


def test_node_failure_gives_kind_handler_with_reason_and_data():
    eng = chain(node("bad", "linear", handler=fail("no title", field="title", tried=[1, 2])))
    result = eng.run({"a": 1}, run_id="r")
    error = stage(result, "bad").error
    assert isinstance(error, StageError)
    assert (error.node_id, error.kind, error.message) == ("bad", "handler", "no title")
    assert error.details == {"field": "title", "tried": [1, 2]}
    assert error.traceback is None


def test_node_failure_with_data_that_is_not_json_keeps_a_repr():
    def bad(payload, ctx):
        raise NodeFailure("odd", data={"s": {1}})

    result = chain(node("bad", "linear", handler=bad)).run(1, run_id="r")
    assert result.error["details"] == {"repr": "{'s': {1}}"}


def test_other_exception_keeps_the_traceback_in_the_record_not_in_the_canonical_trace():
    def buggy(payload, ctx):
        return payload["missing"]

    eng = chain(node("bug", "linear", handler=buggy))
    result = eng.run({}, run_id="r")
    error = stage(result, "bug").error
    assert error.kind == "handler"
    assert error.message == "KeyError: 'missing'"
    assert error.details == {"exception": "KeyError"}
    assert "Traceback" in error.traceback and "buggy" in error.traceback
    assert "traceback" in stage(result, "bug").to_dict()["error"]
    canonical = result.trace.canonical().decode()
    assert "KeyError: 'missing'" in canonical
    assert "Traceback" not in canonical and "buggy" not in canonical
    # the traceback names this machine's files, so it must not change the digest
    assert result.trace.digest == eng.run({}, run_id="r").trace.digest


def test_schema_in_failure_has_kind_schema_in_and_the_handler_never_runs():
    calls: list[object] = []
    eng = chain(node("typed", "linear", handler=lambda p, c: calls.append(p),
                     schema_in={"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}))
    result = eng.run({"n": "one"}, run_id="r")
    assert calls == []
    assert result.error["kind"] == "schema_in"
    assert result.error["details"]["violations"] == [{"path": "/n", "message": "'one' is not of type 'integer'"}]


def test_schema_out_failure_has_kind_schema_out():
    eng = chain(node("typed", "linear", handler=constant({"n": -1}),
                     schema_out={"type": "object", "properties": {"n": {"minimum": 0}}}))
    result = eng.run("in", run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "schema_out"
    assert result.error["details"]["violations"][0]["path"] == "/n"
    assert stage(result, "typed").output == "in"  # the rejected output is not recorded as the output


@pytest.mark.parametrize("role", ["linear", "exit"])
def test_schema_out_is_checked_on_nodes_without_a_handler(role):
    nodes = [node("s", "start"), node("n", role, schema_out={"type": "string"})]
    if role == "linear":
        nodes.append(node("x", "exit"))
    eng = engine(nodes, [("s", "n"), ("n", "x")] if role == "linear" else [("s", "n")])
    assert eng.run("text").status is Status.SUCCESS
    result = eng.run(1, run_id="r")
    assert result.status is Status.FAILURE
    assert (result.error["kind"], result.error["node_id"]) == ("schema_out", "n")


def test_schema_out_is_checked_on_a_merge_without_a_handler():
    eng = engine(
        [node("s", "start"), node("sp", "split"), node("w", "linear"),
         node("m", "merge", schema_out={"type": "object", "properties": {"merge_inputs": {"maxItems": 2}}}),
         node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "x")],
    )
    assert eng.run([1, 2]).status is Status.SUCCESS
    result = eng.run([1, 2, 3])
    assert (result.status, result.error["kind"], result.error["node_id"]) == (Status.FAILURE, "schema_out", "m")


def test_schemas_from_the_schemas_manifest():
    eng = engine(
        [node("s", "start", schema_in="request"), node("x", "exit")], [("s", "x")],
        schemas={"request": {"type": "object", "required": ["q"]}},
    )
    assert eng.run({"q": 1}).status is Status.SUCCESS
    assert eng.run({}).error["kind"] == "schema_in"


@pytest.mark.parametrize("value", [{1, 2}, float("nan"), object(), {"k": b"bytes"}, float("inf")])
def test_handler_output_that_is_not_json_fails_the_node(value):
    result = chain(node("bad", "linear", handler=constant(value))).run(1, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "handler"
    assert "not JSON" in result.error["message"]


def test_tool_not_allowed_fails_with_tool_misuse():
    def sneaky(payload, ctx):
        return ctx.tools.read_file(path="/etc/passwd")

    result = chain(node("sneaky", "linear", handler=sneaky)).run(1, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "tool_misuse"
    assert "read_file" in result.error["message"]


def test_tool_box_answers_membership_and_python_protocols_without_misuse():
    seen = {}

    def careful(payload, ctx):
        seen["in"] = "read_file" in ctx.tools
        seen["list"] = list(ctx.tools)
        seen["copy"] = copy.copy(ctx.tools) is not None
        seen["hasattr"] = hasattr(ctx.tools, "__deepcopy__")
        return payload

    result = chain(node("careful", "linear", handler=careful)).run(1, run_id="r")
    assert result.status is Status.SUCCESS, result.error
    assert seen == {"in": False, "list": [], "copy": True, "hasattr": False}


def test_getattr_with_a_default_is_still_tool_misuse():
    result = chain(node("probe", "linear", handler=lambda p, c: getattr(c.tools, "http_get", None))).run(1)
    assert result.error["kind"] == "tool_misuse"


def test_tool_misuse_inside_a_fan_out_fails_only_that_child():
    def sneaky(payload, ctx):
        if payload:
            ctx.tools.run_command(argv=["rm"])
        return payload

    eng = engine(
        [node("s", "start"), node("sp", "split"), node("w", "linear", handler=sneaky),
         node("m", "merge", merge={"on_failure": "include_failures"}), node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "x")],
    )
    result = eng.run([0, 1], run_id="r")
    assert result.status is Status.PARTIAL
    assert [i.get("error", {}).get("kind") for i in result.output["merge_inputs"]] == [None, "tool_misuse"]


# ---- raise_on_failure -------------------------------------------------------------------------------------


def test_raise_on_failure_raises_task_failed_with_the_result():
    eng = chain(node("bad", "linear", handler=fail("nope")))
    with pytest.raises(TaskFailed, match="at node 'bad': nope") as caught:
        eng.run(1, run_id="r", raise_on_failure=True)
    assert caught.value.result.status is Status.FAILURE
    assert caught.value.result.error["node_id"] == "bad"


def test_raise_on_failure_raises_for_partial_too():
    eng = chain(node("bad", "linear", handler=fail(), continue_on_failure=True))
    with pytest.raises(TaskFailed) as caught:
        eng.run(1, raise_on_failure=True)
    assert caught.value.result.status is Status.PARTIAL


def test_raise_on_failure_returns_a_successful_result():
    result = chain(node("l", "linear")).run(1, raise_on_failure=True)
    assert result.ok
    assert result.output == 1


def test_failed_stage_records_route_nowhere_and_later_nodes_never_run():
    eng = engine(
        [node("s", "start"), node("d", "decision", handler=choose("go")), node("bad", "linear", handler=fail()),
         node("other", "linear"), node("x1", "exit"), node("x2", "exit")],
        [("s", "d"), ("d", "bad", "go"), ("d", "other", "stay"), ("bad", "x1"), ("other", "x2")],
    )
    result = eng.run(1, run_id="r")
    assert stage(result, "bad").route == ()
    assert stages(result, "x1") == stages(result, "other") == []


def test_text_that_utf_8_cannot_encode_is_refused_not_recorded():
    from agent_engine_core import Engine, InvalidInput

    eng = Engine.from_dict(
        {"workflow": {"version": "1.0",
                      "nodes": [{"id": "s", "role": "start"}, {"id": "bad", "role": "linear", "handler": "lone"},
                                {"id": "e", "role": "exit"}],
                      "edges": [{"from": "s", "to": "bad"}, {"from": "bad", "to": "e"}]}},
        handlers={"lone": lambda payload, ctx: {"text": "\ud800"}},
    )
    with pytest.raises(InvalidInput, match="surrogates"):
        eng.run("\udfff")
    result = eng.run("fine")
    assert result.status == "failure"
    assert result.error["kind"] == "handler"
    assert "not JSON" in result.error["message"]
    assert len(result.trace.digest) == 64  # the trace stays encodable
