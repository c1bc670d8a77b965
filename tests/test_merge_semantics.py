"""Merges fire once per fan-out group, with inputs in child-index order, whatever the timing (SPEC §4)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _workflows import (
    async_sleepy,
    choose,
    constant,
    engine,
    fail,
    node,
    run_with_timeout,
    scheduler,
    sleepy,
    stage,
    stages,
)

from agent_engine_core import NodeFailure, Status

# the first child is the slowest, the last the fastest: arrival order is the reverse of child order
SLOW_FIRST = {0: 0.06, 1: 0.03, 2: 0.0}


def finish_order(log, delays, *, asynchronous=False):
    """A handler that sleeps by sibling index, logs its index when it finishes and returns it tagged."""
    lock = threading.Lock()

    def tag(payload, index):
        with lock:
            log.append(index)
        return {"child": index, "payload": payload}

    if asynchronous:
        async def handler(payload, ctx):
            await asyncio.sleep(delays.get(ctx.lineage.index, 0.0))
            return tag(payload, ctx.lineage.index)
    else:
        def handler(payload, ctx):
            time.sleep(delays.get(ctx.lineage.index, 0.0))
            return tag(payload, ctx.lineage.index)

    return handler


def branch_to_merge(clone_handler, width=3, **merge_fields):
    names = [f"c{i}" for i in range(width)]
    return engine(
        [node("s", "start"), node("b", "branch"), *(node(n, "linear", handler=clone_handler) for n in names),
         node("m", "merge", **merge_fields), node("x", "exit")],
        [("s", "b"), *(("b", n) for n in names), *((n, "m") for n in names), ("m", "x")],
    )


def split_to_merge(worker, *, merge_handler=None, **merge_fields):
    return engine(
        [node("s", "start"), node("sp", "split"), node("w", "linear", handler=worker),
         node("m", "merge", handler=merge_handler, **merge_fields), node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "x")],
    )


def fail_negative(payload, ctx):
    if payload < 0:
        raise NodeFailure("negative", data={"value": payload})
    return payload * 10


# ---- order under adversarial timing ---------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync-threads", "async"])
def test_branch_merge_inputs_follow_edge_order_not_arrival(asynchronous):
    log: list[int] = []
    eng = branch_to_merge(finish_order(log, SLOW_FIRST, asynchronous=asynchronous))
    result = eng.run("p", run_id="r")
    assert log == [2, 1, 0], "the test needs the children to finish in reverse order"
    items = result.output["merge_inputs"]
    assert [i["task_id"] for i in items] == ["r/b#0", "r/b#1", "r/b#2"]
    assert [i["from_node"] for i in items] == ["c0", "c1", "c2"]
    assert [i["output"]["child"] for i in items] == [0, 1, 2]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync-threads", "async"])
def test_split_merge_inputs_follow_item_order_not_arrival(asynchronous):
    log: list[int] = []
    eng = split_to_merge(finish_order(log, SLOW_FIRST, asynchronous=asynchronous))
    result = eng.run(["a", "b", "c"], run_id="r")
    assert log == [2, 1, 0]
    assert [(i["output"]["child"], i["output"]["payload"]) for i in result.output["merge_inputs"]] == [
        (0, "a"), (1, "b"), (2, "c"),
    ]


def test_merge_order_and_trace_are_the_same_whatever_the_arrival_order():
    fast = split_to_merge(sleepy({}))
    slow_first = split_to_merge(sleepy(SLOW_FIRST))
    slow_last = split_to_merge(sleepy({0: 0.0, 1: 0.03, 2: 0.06}))
    digests = {e.run([1, 2, 3], run_id="r").trace.digest for e in (fast, slow_first, slow_last)}
    assert len(digests) == 1


# ---- on_failure ------------------------------------------------------------------------------------------


def test_fail_on_any_is_the_default_and_fails_the_merge_with_child_failure():
    calls: list[object] = []
    eng = split_to_merge(fail_negative, merge_handler=lambda p, c: calls.append(p))
    result = eng.run([1, -2, 3], run_id="r")
    assert result.status is Status.FAILURE
    assert calls == []  # the merge handler never ran
    assert result.error["kind"] == "child_failure"
    assert result.error["node_id"] == "m"
    assert result.error["details"] == {"failed": ["r/sp#1"]}
    merge = stage(result, "m")
    assert merge.status is Status.FAILURE
    assert [r.node_id for r in result.trace.for_task("r")] == ["s", "sp", "m"]  # never reached the exit


def test_fail_on_any_spelled_out_behaves_like_the_default():
    spelled = split_to_merge(fail_negative, merge={"on_failure": "fail_on_any"})
    default = split_to_merge(fail_negative)
    assert spelled.run([1, -1], run_id="r").trace.digest == default.run([1, -1], run_id="r").trace.digest


def test_ignore_failures_leaves_failed_children_out_and_the_parent_partial():
    eng = split_to_merge(fail_negative, merge={"on_failure": "ignore_failures"})
    result = eng.run([1, -2, 3, -4], run_id="r")
    assert result.status is Status.PARTIAL
    items = stage(result, "m").input["merge_inputs"]
    assert [(i["task_id"], i["status"], i["output"]) for i in items] == [
        ("r/sp#0", "success", 10), ("r/sp#2", "success", 30),
    ]
    assert "error" not in items[0]
    assert stage(result, "x").status is Status.SUCCESS
    assert result.error["kind"] == "handler"  # a partial result reports the first failure
    assert result.error["details"] == {"value": -2}


def test_include_failures_keeps_failed_children_in_place_with_their_error():
    eng = split_to_merge(fail_negative, merge={"on_failure": "include_failures"})
    result = eng.run([1, -2, 3], run_id="r")
    assert result.status is Status.PARTIAL
    items = stage(result, "m").input["merge_inputs"]
    assert [(i["task_id"], i["status"]) for i in items] == [
        ("r/sp#0", "success"), ("r/sp#1", "failure"), ("r/sp#2", "success"),
    ]
    failed = items[1]
    assert failed["from_node"] == "w"
    assert failed["output"] == -2  # a failed stage's output is its input
    assert failed["error"] == {"node_id": "w", "kind": "handler", "message": "negative", "details": {"value": -2}}


def test_tolerant_merge_without_failures_leaves_the_parent_successful():
    for policy in ("ignore_failures", "include_failures"):
        result = split_to_merge(fail_negative, merge={"on_failure": policy}).run([1, 2], run_id="r")
        assert result.status is Status.SUCCESS, policy
        assert result.error is None


def test_include_failures_traceback_stays_out_of_merge_input():
    def crash(payload, ctx):
        if payload:
            raise RuntimeError("kaput")
        return payload

    result = split_to_merge(crash, merge={"on_failure": "include_failures"}).run([1, 0], run_id="r")
    error = stage(result, "m").input["merge_inputs"][0]["error"]
    assert error["message"] == "RuntimeError: kaput"
    assert "traceback" not in error
    assert "RuntimeError: kaput" in stage(result, "w", "r/sp#0").error.traceback  # the child's record keeps it


@pytest.mark.parametrize("policy", ["ignore_failures", "include_failures"])
def test_every_child_failed_fails_the_parent_with_child_failure(policy):
    eng = split_to_merge(fail_negative, merge={"on_failure": policy})
    result = eng.run([-1, -2], run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "child_failure"
    assert sorted(result.error["details"]["failed"]) == ["r/sp#0", "r/sp#1"]


def test_merging_a_partial_child_leaves_the_parent_partial():
    eng = engine(
        [node("s", "start"), node("sp", "split"),
         node("shaky", "linear", handler=fail_negative, continue_on_failure=True),
         node("m", "merge"), node("x", "exit")],
        [("s", "sp"), ("sp", "shaky"), ("shaky", "m"), ("m", "x")],
    )
    result = eng.run([1, -1], run_id="r")
    assert result.status is Status.PARTIAL
    assert [(i["status"], i["output"]) for i in result.output["merge_inputs"]] == [("success", 10), ("partial", -1)]


# ---- lone tasks and children that end elsewhere ----------------------------------------------------------


def decided_merge(first_handler=None, **first_fields):
    return engine(
        [node("s", "start", handler=first_handler, **first_fields), node("d", "decision", handler=choose("R")),
         node("left", "linear"), node("right", "linear", handler=lambda p, c: {"right": p}),
         node("m", "merge"), node("x", "exit")],
        [("s", "d"), ("d", "left", "L"), ("d", "right", "R"), ("left", "m"), ("right", "m"), ("m", "x")],
    )


def test_lone_task_reaching_a_merge_after_a_decision_fires_it_once_with_one_input():
    result = run_with_timeout(decided_merge(), 4, run_id="r")
    assert result.status is Status.SUCCESS
    assert [r.node_id for r in result.trace] == ["s", "d", "right", "m", "x"]
    assert result.output == {
        "merge_inputs": [{
            "task_id": "r",
            "lineage": {"kind": "root", "parent_id": None, "path": []},
            "from_node": "right",
            "status": "success",
            "output": {"right": 4},
        }]
    }


def test_a_merge_handler_after_a_decision_receives_the_merge_input_not_the_previous_output():
    seen = []
    chain = engine(
        [node("s", "start"), node("d", "decision", handler=choose("R")), node("left", "linear"),
         node("right", "linear", handler=lambda p, c: {"right": p}),
         node("m", "merge", handler=lambda p, c: seen.append(p) or p["merge_inputs"][0]["output"]),
         node("x", "exit")],
        [("s", "d"), ("d", "left", "L"), ("d", "right", "R"), ("left", "m"), ("right", "m"), ("m", "x")],
    )
    result = chain.run(4, run_id="r")
    assert (result.status, result.output) == (Status.SUCCESS, {"right": 4})
    assert [i["from_node"] for i in seen[0]["merge_inputs"]] == ["right"]


def test_lone_degraded_task_enters_its_merge_as_partial():
    result = decided_merge(fail(), continue_on_failure=True).run(4, run_id="r")
    assert result.status is Status.PARTIAL
    assert [i["status"] for i in result.output["merge_inputs"]] == ["partial"]


def test_children_that_end_at_an_exit_are_not_merge_inputs():
    eng = engine(
        [node("s", "start"), node("sp", "split"),
         node("d", "decision", handler=lambda p, c: "keep" if p % 2 else "drop"),
         node("m", "merge"), node("dropped", "exit"), node("x", "exit")],
        [("s", "sp"), ("sp", "d"), ("d", "m", "keep"), ("d", "dropped", "drop"), ("m", "x")],
    )
    result = run_with_timeout(eng, [1, 2, 3, 4, 5], run_id="r")
    assert result.status is Status.SUCCESS
    assert [(i["task_id"], i["output"]) for i in result.output["merge_inputs"]] == [
        ("r/sp#0", 1), ("r/sp#2", 3), ("r/sp#4", 5),
    ]
    assert [r.task_id for r in stages(result, "dropped")] == ["r/sp#1", "r/sp#3"]


def test_children_arriving_at_different_merge_nodes_fail_the_parent_with_routing():
    eng = engine(
        [node("s", "start"), node("sp", "split"),
         node("d", "decision", handler=lambda p, c: "a" if p % 2 else "b"),
         node("ma", "merge"), node("mb", "merge"), node("xa", "exit"), node("xb", "exit")],
        [("s", "sp"), ("sp", "d"), ("d", "ma", "a"), ("d", "mb", "b"), ("ma", "xa"), ("mb", "xb")],
    )
    result = run_with_timeout(eng, [1, 2], run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "routing"
    assert result.error["details"] == {"merge_nodes": ["ma", "mb"]}
    assert stages(result, "ma") == stages(result, "mb") == []  # neither merge fired
    # when every child goes the same way, the same workflow merges normally
    assert run_with_timeout(eng, [1, 3], run_id="r").status is Status.SUCCESS


# ---- nested fan-outs ------------------------------------------------------------------------------------


def test_nested_fan_outs_merge_innermost_first():
    order: list[tuple[str, str]] = []
    lock = threading.Lock()

    def inner(payload, ctx):
        with lock:
            order.append(("inner", ctx.task_id))
        return {"pair": [i["output"] for i in payload["merge_inputs"]]}

    def outer(payload, ctx):
        with lock:
            order.append(("outer", ctx.task_id))
        return [i["output"]["pair"] for i in payload["merge_inputs"]]

    eng = engine(
        [node("s", "start"), node("sp", "split"), node("br", "branch"),
         node("plus", "linear", handler=sleepy({0: 0.02}, lambda p: p + 1)),
         node("times", "linear", handler=lambda p, c: p * 10),
         node("inner", "merge", handler=inner), node("outer", "merge", handler=outer), node("x", "exit")],
        [("s", "sp"), ("sp", "br"), ("br", "plus"), ("br", "times"), ("plus", "inner"), ("times", "inner"),
         ("inner", "outer"), ("outer", "x")],
    )
    result = run_with_timeout(eng, [1, 2, 3], run_id="r")
    assert result.status is Status.SUCCESS
    assert result.output == [[2, 10], [3, 20], [4, 30]]
    assert sorted(order[:3]) == [("inner", f"r/sp#{i}") for i in range(3)]
    assert order[3:] == [("outer", "r")]
    outer_items = stage(result, "outer").input["merge_inputs"]
    assert [(i["task_id"], i["from_node"]) for i in outer_items] == [(f"r/sp#{i}", "inner") for i in range(3)]


def shared_merge(clone_handler=None):
    return engine(
        [node("s", "start"), node("b", "branch"), node("a", "linear", handler=constant("A")),
         node("b2", "branch"), node("c", "linear", handler=clone_handler or constant("C")),
         node("d", "linear", handler=constant("D")), node("m", "merge"), node("x", "exit")],
        [("s", "b"), ("b", "a"), ("b", "b2"), ("b2", "c"), ("b2", "d"), ("a", "m"), ("c", "m"), ("d", "m"),
         ("m", "x")],
    )


def test_nested_fan_outs_sharing_one_merge_node_cascade_innermost_first():
    result = run_with_timeout(shared_merge(), None, run_id="r")
    assert result.status is Status.SUCCESS
    merges = stages(result, "m")
    assert [r.task_id for r in merges] == ["r", "r/b#1"]  # canonical order; the inner one ran first
    inner = stage(result, "m", "r/b#1")
    assert [(i["task_id"], i["output"]) for i in inner.input["merge_inputs"]] == [
        ("r/b#1/b2#0", "C"), ("r/b#1/b2#1", "D"),
    ]
    assert inner.route == ()  # the inner group's parent waits at the same merge for its own group
    outer = stage(result, "m", "r").input["merge_inputs"]
    assert [(i["task_id"], i["from_node"]) for i in outer] == [("r/b#0", "a"), ("r/b#1", "m")]
    assert outer[1]["output"] == inner.output
    assert [r.node_id for r in result.trace.for_task("r")] == ["s", "b", "m", "x"]


def test_a_failure_inside_a_shared_merge_cascade_fails_the_inner_merge_first():
    result = run_with_timeout(shared_merge(fail()), None, run_id="r")
    assert result.status is Status.FAILURE
    inner = stage(result, "m", "r/b#1")
    assert (inner.status, inner.error.kind) == (Status.FAILURE, "child_failure")
    assert inner.error.details == {"failed": ["r/b#1/b2#0"]}
    outer = stage(result, "m", "r")
    assert outer.error.kind == "child_failure"
    assert outer.error.details == {"failed": ["r/b#1"]}


# ---- no stalls ------------------------------------------------------------------------------------------


STALL_SHAPES = {
    "branch": lambda conc: engine(
        [node("s", "start"), node("b", "branch"), node("c0", "linear", handler=sleepy({0: 0.01})),
         node("c1", "linear", handler=fail()), node("m", "merge", merge={"on_failure": "include_failures"}),
         node("x", "exit")],
        [("s", "b"), ("b", "c0"), ("b", "c1"), ("c0", "m"), ("c1", "m"), ("m", "x")],
        scheduler=scheduler(conc),
    ),
    "split": lambda conc: engine(
        [node("s", "start"), node("sp", "split"), node("w", "linear", handler=fail_negative),
         node("m", "merge", merge={"on_failure": "ignore_failures"}), node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "x")],
        scheduler=scheduler(conc),
    ),
    "split-k-edges": lambda conc: engine(
        [node("s", "start"), node("sp", "split"), node("e0", "linear", handler=async_sleepy({1: 0.01})),
         node("e1", "linear", handler=fail_negative), node("m", "merge"), node("x", "exit")],
        [("s", "sp"), ("sp", "e0"), ("sp", "e1"), ("e0", "m"), ("e1", "m"), ("m", "x")],
        scheduler=scheduler(conc),
    ),
    "nested": lambda conc: engine(
        [node("s", "start"), node("sp", "split"), node("br", "branch"),
         node("a", "linear", handler=sleepy({1: 0.005})), node("b", "linear"), node("inner", "merge"),
         node("outer", "merge"), node("x", "exit")],
        [("s", "sp"), ("sp", "br"), ("br", "a"), ("br", "b"), ("a", "inner"), ("b", "inner"),
         ("inner", "outer"), ("outer", "x")],
        scheduler=scheduler(conc),
    ),
}


@pytest.mark.parametrize("concurrency", [1, 2, 32])
@pytest.mark.parametrize("shape", sorted(STALL_SHAPES))
def test_fan_out_to_merge_never_stalls(shape, concurrency):
    eng = STALL_SHAPES[shape](concurrency)
    payloads = {"branch": 1, "split": [3, -1, 2, 5], "split-k-edges": [1, 2, 3, 4], "nested": [1, 2, 3, 4, 5]}
    result = run_with_timeout(eng, payloads[shape], 10, run_id="r")  # a stall raises TimeoutError
    assert result.status in (Status.SUCCESS, Status.PARTIAL)
    assert result.trace.for_task("r")[-1].node_id == "x"


# ---- independence from hash randomisation ---------------------------------------------------------------

_HASHSEED_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from _workflows import engine, node
def tag(p, c):
    return {"task": c.task_id, "set_like": sorted({str(p), "x", "y"}), "p": p}
eng = engine(
    [node("start", "start"), node("fan", "split"), node("zeta", "linear", handler=tag),
     node("mid", "branch"), node("q", "linear", handler=tag), node("k", "linear"),
     node("join", "merge"), node("reduce", "merge"), node("end", "exit")],
    [("start", "fan"), ("fan", "zeta"), ("zeta", "mid"), ("mid", "q"), ("mid", "k"), ("q", "join"),
     ("k", "join"), ("join", "reduce"), ("reduce", "end")],
)
result = eng.run([{"k%d" % i: i} for i in range(6)], run_id="seeded")
print(result.status, result.trace.digest)
"""


def test_merge_inputs_order_is_independent_of_pythonhashseed():
    tests_dir = str(Path(__file__).parent)
    outputs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _HASHSEED_SCRIPT, tests_dir], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    assert outputs[0].startswith("success ")
    assert outputs[0] == outputs[1]
