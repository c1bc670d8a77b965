"""Each node role routes as SPEC §4 says, including the defaults of nodes without a handler."""

from __future__ import annotations

import asyncio

import pytest
from _workflows import choose, constant, engine, node, stage, stages

from agent_engine_core import InvalidInput, NodeContext, Status


def double(payload, ctx):
    return payload * 2


def record_ctx(seen):
    def handler(payload, ctx):
        seen.append((ctx.node_id, ctx.task_id, ctx.run_id, ctx.lineage.index))
        return payload

    return handler


# ---- start / linear / exit ------------------------------------------------------------------------------


def test_handlerless_start_linear_exit_pass_the_input_through():
    eng = engine([node("s", "start"), node("l", "linear"), node("x", "exit")], [("s", "l"), ("l", "x")])
    result = eng.run({"a": [1, 2]}, run_id="r")
    assert result.status is Status.SUCCESS
    assert result.output == {"a": [1, 2]}
    assert [(r.node_id, r.input, r.output) for r in result.trace] == [
        ("s", {"a": [1, 2]}, {"a": [1, 2]}),
        ("l", {"a": [1, 2]}, {"a": [1, 2]}),
        ("x", {"a": [1, 2]}, {"a": [1, 2]}),
    ]
    assert [r.route for r in result.trace] == [("l",), ("x",), ()]


def test_linear_handlers_transform_and_pass_on_in_order():
    eng = engine(
        [node("s", "start", handler=lambda p, c: p + 1), node("l", "linear", handler=double), node("x", "exit")],
        [("s", "l"), ("l", "x")],
    )
    result = eng.run(3, run_id="r")
    assert result.output == 8
    assert stage(result, "l").input == 4


def test_exit_returns_the_current_output_unchanged():
    eng = engine([node("s", "start", handler=constant({"k": "v"})), node("x", "exit")], [("s", "x")])
    result = eng.run(None, run_id="r")
    assert result.output == {"k": "v"}
    assert stage(result, "x").output == {"k": "v"}
    assert result.error is None


def test_handler_receives_a_read_only_context_describing_the_stage():
    seen: list[object] = []

    def grab(payload, ctx):
        seen.append(ctx)
        with pytest.raises(AttributeError):
            ctx.node_id = "other"
        return payload

    eng = engine([node("s", "start"), node("l", "linear", handler=grab), node("x", "exit")],
                 [("s", "l"), ("l", "x")])
    eng.run(1, run_id="run-7")
    (ctx,) = seen
    assert isinstance(ctx, NodeContext)
    assert (ctx.node_id, ctx.task_id, ctx.run_id, ctx.lineage.depth) == ("l", "run-7", "run-7", 0)


# ---- start= ---------------------------------------------------------------------------------------------


def two_starts():
    return engine(
        [
            node("a", "start", handler=constant("from a"), default_start=True),
            node("b", "start", handler=constant("from b")),
            node("m", "merge"),
            node("x", "exit"),
        ],
        [("a", "m"), ("b", "m"), ("m", "x")],
    )


def test_run_starts_at_the_default_start_node():
    result = two_starts().run(None, run_id="r")
    assert [r.node_id for r in result.trace] == ["a", "m", "x"]


def test_start_names_another_start_node():
    result = two_starts().run(None, start="b", run_id="r")
    assert [r.node_id for r in result.trace] == ["b", "m", "x"]
    assert [item["output"] for item in result.output["merge_inputs"]] == ["from b"]


@pytest.mark.parametrize("start", ["nope", "m", "x"])
def test_unknown_or_non_start_node_raises_invalid_input(start):
    with pytest.raises(InvalidInput, match=start):
        two_starts().run(None, start=start)


def test_input_that_is_not_json_raises_invalid_input():
    eng = engine([node("s", "start"), node("x", "exit")], [("s", "x")])
    with pytest.raises(InvalidInput, match="not JSON"):
        eng.run({1, 2})


# ---- decision -------------------------------------------------------------------------------------------


def decision_workflow(answer, **decision_fields):
    return engine(
        [
            node("s", "start", handler=constant({"q": 1})),
            node("d", "decision", handler=choose(answer), **decision_fields),
            node("yes", "linear", handler=lambda p, c: {"path": "yes", "got": p}),
            node("no", "linear", handler=lambda p, c: {"path": "no", "got": p}),
            node("xy", "exit"),
            node("xn", "exit"),
        ],
        [("s", "d"), ("d", "yes", "Y"), ("d", "no", "N"), ("yes", "xy"), ("no", "xn")],
    )


@pytest.mark.parametrize("answer", ["N", {"selected_edge": "N"}, {"selected_edge": "N", "why": "because"}])
def test_decision_routes_by_label_string_or_selected_edge(answer):
    result = decision_workflow(answer).run(None, run_id="r")
    assert result.status is Status.SUCCESS
    assert [r.node_id for r in result.trace] == ["s", "d", "no", "xn"]
    assert stage(result, "d").route == ("no",)
    assert stage(result, "d").output == answer  # the label is recorded as the decision's output


def test_chosen_path_receives_the_decisions_input_not_its_label():
    result = decision_workflow({"selected_edge": "Y"}).run(None, run_id="r")
    assert stage(result, "yes").input == {"q": 1}
    assert result.output == {"path": "yes", "got": {"q": 1}}


@pytest.mark.parametrize("answer", ["maybe", {"selected_edge": "maybe"}, {"edge": "Y"}, 1, None, ["Y"]])
def test_unknown_label_fails_with_kind_routing_and_never_falls_back(answer):
    result = decision_workflow(answer).run(None, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "routing"
    assert result.error["node_id"] == "d"
    assert [r.node_id for r in result.trace] == ["s", "d"]  # neither path was taken
    assert stage(result, "d").status is Status.FAILURE
    assert stage(result, "d").route == ()


def test_unknown_label_fails_even_with_continue_on_failure():
    result = decision_workflow("maybe", continue_on_failure=True).run(None, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "routing"
    assert [r.node_id for r in result.trace] == ["s", "d"]


def test_unknown_label_error_names_the_label_and_the_choices():
    result = decision_workflow({"selected_edge": "maybe"}).run(None, run_id="r")
    assert result.error["details"] == {"selected_edge": "maybe", "labels": ["Y", "N"]}


# ---- branch ---------------------------------------------------------------------------------------------


def branch_workflow(branch_handler=None):
    return engine(
        [
            node("s", "start"),
            node("b", "branch", handler=branch_handler),
            node("c0", "linear", handler=lambda p, c: {"c0": p}),
            node("c1", "linear", handler=lambda p, c: {"c1": p}),
            node("c2", "linear", handler=lambda p, c: {"c2": p}),
            node("m", "merge"),
            node("x", "exit"),
        ],
        [("s", "b"), ("b", "c0"), ("b", "c1"), ("b", "c2"), ("c0", "m"), ("c1", "m"), ("c2", "m"), ("m", "x")],
    )


def test_handlerless_branch_gives_each_clone_its_input():
    result = branch_workflow().run({"v": 1}, run_id="r")
    assert [(r.task_id, r.node_id, r.input) for r in result.trace if r.node_id.startswith("c")] == [
        ("r/b#0", "c0", {"v": 1}),
        ("r/b#1", "c1", {"v": 1}),
        ("r/b#2", "c2", {"v": 1}),
    ]


def test_branch_gives_each_clone_its_output_in_edge_order():
    result = branch_workflow(lambda p, c: {"from_branch": p}).run(5, run_id="r")
    assert stage(result, "b").route == ("c0", "c1", "c2")
    for index, name in enumerate(["c0", "c1", "c2"]):
        assert stage(result, name).input == {"from_branch": 5}
        assert stage(result, name).task_id == f"r/b#{index}"
    clones = [t for t in result.trace.tasks if t.lineage.kind == "clone"]
    assert [(t.task_id, t.lineage.index, t.lineage.created_by) for t in clones] == [
        ("r/b#0", 0, "b"), ("r/b#1", 1, "b"), ("r/b#2", 2, "b"),
    ]


# ---- merge ----------------------------------------------------------------------------------------------


def test_handlerless_merge_outputs_its_merge_input():
    result = branch_workflow().run(7, run_id="r")
    merge = stage(result, "m")
    assert merge.output == merge.input
    assert result.output == {
        "merge_inputs": [
            {
                "task_id": f"r/b#{i}",
                "lineage": {"kind": "clone", "parent_id": "r", "path": [{"node_id": "b", "index": i}]},
                "from_node": f"c{i}",
                "status": "success",
                "output": {f"c{i}": 7},
            }
            for i in range(3)
        ]
    }


def test_merge_handler_receives_merge_inputs_and_the_parent_continues_with_its_output():
    def total(payload, ctx):
        return sum(next(iter(item["output"].values())) for item in payload["merge_inputs"])

    wf = engine(
        [
            node("s", "start"), node("b", "branch"),
            node("c0", "linear", handler=lambda p, c: {"c0": p}),
            node("c1", "linear", handler=lambda p, c: {"c1": p * 10}),
            node("m", "merge", handler=total), node("after", "linear", handler=lambda p, c: p + 1),
            node("x", "exit"),
        ],
        [("s", "b"), ("b", "c0"), ("b", "c1"), ("c0", "m"), ("c1", "m"), ("m", "after"), ("after", "x")],
    )
    result = wf.run(2, run_id="r")
    assert result.output == 23
    assert stage(result, "m").task_id == "r"  # the parent runs the merge, once
    assert stage(result, "after").task_id == "r"


# ---- split ----------------------------------------------------------------------------------------------


def tagger(name):
    return lambda payload, ctx: {name: payload}


def split_workflow(split_handler=None, targets=("w",), **split_fields):
    nodes = [node("s", "start"), node("sp", "split", handler=split_handler, **split_fields)]
    nodes += [node(t, "linear", handler=tagger(t)) for t in targets]
    nodes += [node("m", "merge"), node("x", "exit")]
    edge_list = [("s", "sp")] + [("sp", t) for t in targets] + [(t, "m") for t in targets] + [("m", "x")]
    return engine(nodes, edge_list)


def test_split_creates_one_subtask_per_list_item():
    result = split_workflow().run(["a", "b", "c"], run_id="r")
    assert result.status is Status.SUCCESS
    assert [(r.task_id, r.input) for r in stages(result, "w")] == [("r/sp#0", "a"), ("r/sp#1", "b"), ("r/sp#2", "c")]
    assert [i["output"] for i in result.output["merge_inputs"]] == [{"w": "a"}, {"w": "b"}, {"w": "c"}]
    assert {t.lineage.kind for t in result.trace.tasks if t.task_id != "r"} == {"subtask"}


def test_split_accepts_an_object_with_subtask_inputs():
    result = split_workflow(lambda p, c: {"subtask_inputs": [p, p + 1], "ignored": True}).run(1, run_id="r")
    assert [r.input for r in stages(result, "w")] == [1, 2]


@pytest.mark.parametrize("value", [{"items": [1]}, "abc", 3, None, {"subtask_inputs": "no"}])
def test_split_without_a_list_fails_with_kind_routing(value):
    result = split_workflow(constant(value)).run(None, run_id="r")
    assert result.status is Status.FAILURE
    assert (result.error["kind"], result.error["node_id"]) == ("routing", "sp")
    assert stages(result, "w") == []


@pytest.mark.parametrize("value", [[], {"subtask_inputs": []}])
def test_split_of_an_empty_list_fails_with_kind_routing(value):
    result = split_workflow(constant(value)).run(None, run_id="r")
    assert result.status is Status.FAILURE
    assert (result.error["kind"], result.error["node_id"]) == ("routing", "sp")
    assert "empty" in result.error["message"]
    assert [r.node_id for r in result.trace] == ["s", "sp"]


def test_split_with_k_out_edges_sends_item_i_along_edge_i_mod_k():
    result = split_workflow(targets=("e0", "e1", "e2")).run(list(range(7)), run_id="r")
    assert stage(result, "sp").route == ("e0", "e1", "e2", "e0", "e1", "e2", "e0")
    routed = sorted((int(r.task_id.rsplit("#", 1)[1]), r.node_id, r.input) for r in result.trace
                    if r.node_id.startswith("e"))
    assert routed == [(i, f"e{i % 3}", i) for i in range(7)]
    # merge inputs stay in item order whatever edge each item took
    assert [(i["from_node"], i["output"]) for i in result.output["merge_inputs"]] == [
        (f"e{i % 3}", {f"e{i % 3}": i}) for i in range(7)
    ]


def test_split_with_more_edges_than_items_leaves_the_extra_edges_unused():
    result = split_workflow(targets=("e0", "e1", "e2")).run(["only"], run_id="r")
    assert result.status is Status.SUCCESS
    assert [r.node_id for r in result.trace if r.node_id.startswith("e")] == ["e0"]


# ---- task ids -------------------------------------------------------------------------------------------


def nested():
    return engine(
        [
            node("s", "start"), node("split", "split"), node("br", "branch"),
            node("a", "linear"), node("b", "linear"), node("inner", "merge"), node("outer", "merge"),
            node("x", "exit"),
        ],
        [("s", "split"), ("split", "br"), ("br", "a"), ("br", "b"), ("a", "inner"), ("b", "inner"),
         ("inner", "outer"), ("outer", "x")],
    )


def test_task_ids_derive_from_run_id_and_lineage():
    result = nested().run([10, 20, 30], run_id="run")
    ids = [t.task_id for t in result.trace.tasks]
    assert ids == [
        "run",
        "run/split#0", "run/split#0/br#0", "run/split#0/br#1",
        "run/split#1", "run/split#1/br#0", "run/split#1/br#1",
        "run/split#2", "run/split#2/br#0", "run/split#2/br#1",
    ]
    grandchild = next(t for t in result.trace.tasks if t.task_id == "run/split#2/br#1")
    assert grandchild.lineage.parent_id == "run/split#2"
    assert [(s.node_id, s.index) for s in grandchild.lineage.path] == [("split", 2), ("br", 1)]
    assert stage(result, "a", "run/split#2/br#0").input == 30


def test_same_run_id_reproduces_ids_and_trace():
    eng = nested()
    first, second = eng.run([1, 2], run_id="same"), eng.run([1, 2], run_id="same")
    assert [t.task_id for t in first.trace.tasks] == [t.task_id for t in second.trace.tasks]
    assert first.trace.canonical() == second.trace.canonical()
    assert first.trace.digest == second.trace.digest


def test_without_run_id_each_run_gets_a_fresh_root_id():
    eng = nested()
    first, second = eng.run([1]), eng.run([1])
    assert first.task_id != second.task_id
    assert first.task_id.startswith("run-")
    assert all(t.task_id.startswith(first.task_id) for t in first.trace.tasks)
    assert first.trace.digest != second.trace.digest  # the run id is part of the trace


def test_context_carries_task_ids_and_sibling_index():
    seen: list[tuple] = []
    eng = engine([node("s", "start"), node("sp", "split"), node("w", "linear", handler=record_ctx(seen)),
                  node("m", "merge"), node("x", "exit")],
                 [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "x")])
    eng.run([0, 0, 0], run_id="R")
    assert sorted(seen) == [("w", f"R/sp#{i}", "R", i) for i in range(3)]


# ---- async handlers -------------------------------------------------------------------------------------


async def async_double(payload, ctx):
    await asyncio.sleep(0)
    return payload * 2


async def async_pick(payload, ctx):
    await asyncio.sleep(0)
    return {"selected_edge": "N" if payload["q"] else "Y"}


def test_async_handlers_for_every_role():
    async def split_in_two(payload, ctx):
        return [payload, payload + 1]

    async def merge_sum(payload, ctx):
        return sum(item["output"] for item in payload["merge_inputs"])

    eng = engine(
        [
            node("s", "start", handler=async_double),
            node("sp", "split", handler=split_in_two),
            node("w", "linear", handler=async_double),
            node("m", "merge", handler=merge_sum),
            node("x", "exit"),
        ],
        [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "x")],
    )
    result = eng.run(1, run_id="r")
    assert result.output == (2 * 2) + (3 * 2)


def test_async_decision_and_arun():
    eng = engine(
        [node("s", "start"), node("d", "decision", handler=async_pick), node("yes", "linear"),
         node("no", "linear"), node("xy", "exit"), node("xn", "exit")],
        [("s", "d"), ("d", "yes", "Y"), ("d", "no", "N"), ("yes", "xy"), ("no", "xn")],
    )
    result = asyncio.run(eng.arun({"q": 1}, run_id="r"))
    assert [r.node_id for r in result.trace] == ["s", "d", "no", "xn"]
    assert result.output == {"q": 1}


def test_run_inside_a_running_loop_is_refused_with_a_pointer_to_arun():
    eng = engine([node("s", "start"), node("x", "exit")], [("s", "x")])

    async def inside():
        with pytest.raises(RuntimeError, match="arun"):
            eng.run(1)

    asyncio.run(inside())
