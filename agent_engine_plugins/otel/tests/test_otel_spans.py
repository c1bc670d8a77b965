"""The span tree: names, kinds and attributes per the GenAI conventions, one trace per run, errors, timing."""

from __future__ import annotations

from typing import Any

from _otel_harness import (
    BRANCH_HANDLERS,
    DECISION_HANDLERS,
    NESTED_HANDLERS,
    SECRET_TEXT,
    Recorded,
    attributes,
    branch_merge_project,
    decision_project,
    in_memory_otel,
    nested_project,
    sink,
)
from agent_engine_core import Engine, NodeFailure
from agent_engine_core.events import NodeFinished, NodeStarted, TaskFinished, TaskStarted
from agent_engine_core.testing import EventRecorder, assert_same_trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _assert_one_tree(recorded: Recorded) -> ReadableSpan:
    """Every span is in one trace, under one root, and every parent it names was exported; returns the root."""
    spans = recorded.spans
    assert len({s.context.trace_id for s in spans}) == 1, "the run's spans are spread over several traces"
    ids = {s.context.span_id for s in spans}
    roots = [s for s in spans if s.parent is None]
    assert [r.name for r in roots] == ["invoke_workflow workflow"]
    orphans = [s.name for s in spans if s.parent is not None and s.parent.span_id not in ids]
    assert not orphans, f"spans whose parent was never exported: {orphans}"
    return roots[0]


def test_otel_decision_workflow_spans_follow_the_genai_conventions(
    make_engine: Any, event_recorder: EventRecorder
) -> None:
    with in_memory_otel() as recorded:
        engine = make_engine({**decision_project(), **sink()}, handlers=DECISION_HANDLERS, plugins=[event_recorder])
        result = engine.run({"text": SECRET_TEXT}, run_id="run-decide")
    assert result.ok

    root = _assert_one_tree(recorded)
    assert sorted(s.name for s in recorded.spans) == sorted([
        "invoke_workflow workflow", "normalize", "invoke_agent router", "chat router-model", "edit", "done",
    ])
    assert attributes(root) == {
        "gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "workflow",
        "agent_engine.run_id": "run-decide", "agent_engine.task_id": "run-decide",
        "agent_engine.task.kind": "root", "agent_engine.start_node": "normalize",
        "agent_engine.task.status": "success",
    }

    agent = recorded.one("invoke_agent router")
    assert agent.kind is SpanKind.INTERNAL
    assert recorded.parent_of(agent) is root
    assert attributes(agent).items() >= {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "router", "gen_ai.agent.id": "router",
        "gen_ai.provider.name": "scripted", "gen_ai.request.model": "router-model",
        "agent_engine.node_id": "decide", "agent_engine.task_id": "run-decide", "agent_engine.route": ("edit",),
    }.items()

    chat = recorded.one("chat router-model")
    assert chat.kind is SpanKind.CLIENT
    assert recorded.parent_of(chat) is agent
    assert attributes(chat).items() >= {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "scripted",
        "gen_ai.request.model": "router-model", "gen_ai.response.model": "router-model",
        "gen_ai.usage.input_tokens": 0, "gen_ai.usage.output_tokens": 0,
        "gen_ai.response.finish_reasons": ("stop",),
    }.items()

    for name in ("normalize", "edit", "done"):
        span = recorded.one(name)
        assert span.kind is SpanKind.INTERNAL
        assert recorded.parent_of(span) is root
        assert "gen_ai.operation.name" not in attributes(span), "a deterministic node is not a GenAI operation"
        assert attributes(span)["agent_engine.node_id"] == name
    assert [recorded.one(n).attributes["agent_engine.stage"] for n in ("normalize", "edit")] == [0, 2]  # type: ignore[index]

    # times are the events' own: node_started -> node_finished, task_started -> task_finished
    started = {e.node_id: e for e in event_recorder.events if isinstance(e, NodeStarted)}
    finished = {e.node_id: e for e in event_recorder.events if isinstance(e, NodeFinished)}
    for node, name in (("normalize", "normalize"), ("decide", "invoke_agent router"), ("done", "done")):
        span = recorded.one(name)
        assert (span.start_time, span.end_time) == (_ns(started[node].timestamp), _ns(finished[node].timestamp))
    task_start = next(e for e in event_recorder.events if isinstance(e, TaskStarted))
    task_end = next(e for e in event_recorder.events if isinstance(e, TaskFinished))
    assert (root.start_time, root.end_time) == (_ns(task_start.timestamp), _ns(task_end.timestamp))
    assert agent.start_time <= chat.start_time <= chat.end_time <= agent.end_time  # type: ignore[operator]


def test_otel_branch_and_merge_run_forms_one_trace_with_the_task_tree(make_engine: Any) -> None:
    with in_memory_otel() as recorded:
        engine = make_engine({**branch_merge_project(), **sink()}, handlers=BRANCH_HANDLERS)
        result = engine.run({"n": 1}, run_id="run-fan")
    assert result.ok and result.output == {"ns": [4, 3]}

    root = _assert_one_tree(recorded)
    fan = recorded.one("fan")
    assert recorded.parent_of(fan) is root
    clones = sorted(recorded.named("clone fan"), key=lambda s: attributes(s)["agent_engine.task.index"])
    assert [recorded.parent_of(c) for c in clones] == [fan, fan], "each clone hangs under the branch stage"
    assert [attributes(c)["agent_engine.task_id"] for c in clones] == ["run-fan/fan#0", "run-fan/fan#1"]
    assert all(attributes(c)["agent_engine.task.waiting_at"] == "join" for c in clones)
    assert recorded.parent_of(recorded.one("double")) is clones[0]
    assert recorded.parent_of(recorded.one("inc")) is clones[1]
    join = recorded.one("join")
    assert recorded.parent_of(join) is root, "the merge stage runs in the parent task"
    assert [link.context.span_id for link in join.links] == [c.context.span_id for c in clones]
    assert recorded.parent_of(recorded.one("end")) is root


def test_otel_nested_fan_outs_nest_their_spans(make_engine: Any) -> None:
    with in_memory_otel() as recorded:
        engine = make_engine({**nested_project(), **sink()}, handlers=NESTED_HANDLERS)
        result = engine.run({"ns": [1, 5]}, run_id="run-nest")
    assert result.ok

    _assert_one_tree(recorded)

    def ancestry(span: ReadableSpan) -> list[str]:
        names = []
        parent = recorded.parent_of(span)
        while parent is not None:
            names.append(parent.name)
            parent = recorded.parent_of(parent)
        return names

    doubles = recorded.named("double")
    assert len(doubles) == 2
    for span in doubles:
        assert ancestry(span) == ["clone analyse", "analyse", "subtask each", "each", "invoke_workflow workflow"]
        assert attributes(span)["agent_engine.task_id"].startswith("run-nest/each#")
    for combine in recorded.named("combine"):
        assert ancestry(combine) == ["subtask each", "each", "invoke_workflow workflow"]
        assert len(combine.links) == 2


def _fails(payload: Any, ctx: Any) -> Any:
    raise NodeFailure("the chapter is locked", data={"chapter": 3})


def test_otel_failed_stage_and_task_have_error_status(make_engine: Any) -> None:
    with in_memory_otel() as recorded:
        engine = make_engine({**decision_project(), **sink()}, handlers={**DECISION_HANDLERS, "edit": _fails})
        result = engine.run({"text": "x"})
    assert result.status == "failure"

    edit = recorded.one("edit")
    assert edit.status.status_code is StatusCode.ERROR
    assert edit.status.description == "handler: the chapter is locked"
    assert attributes(edit)["error.type"] == "handler"
    assert attributes(edit)["agent_engine.node.status"] == "failure"
    root = recorded.one("invoke_workflow workflow")
    assert root.status.status_code is StatusCode.ERROR
    assert attributes(root)["agent_engine.task.status"] == "failure"
    for name in ("normalize", "invoke_agent router", "chat router-model"):
        assert recorded.one(name).status.status_code is StatusCode.UNSET


def test_otel_failed_clone_fails_only_its_own_spans(make_engine: Any) -> None:
    with in_memory_otel() as recorded:
        engine = make_engine({**branch_merge_project(), **sink()}, handlers={**BRANCH_HANDLERS, "plus": _plus_once})
        engine.run({"n": 1})
    inc = recorded.one("inc")
    assert inc.status.status_code is StatusCode.ERROR
    failed_clone = recorded.parent_of(inc)
    assert failed_clone is not None and failed_clone.status.status_code is StatusCode.ERROR
    assert recorded.one("double").status.status_code is StatusCode.UNSET
    assert recorded.one("join").status.status_code is StatusCode.ERROR  # fail_on_any: child_failure
    assert attributes(recorded.one("join"))["error.type"] == "child_failure"


def _plus_once(payload: Any, ctx: Any) -> Any:
    if ctx.lineage.depth:  # the start node passes, the clone fails
        raise NodeFailure("no more increments")
    return {"n": payload["n"] + 1}


def test_otel_sink_leaves_the_trace_digest_identical(make_engine: Any) -> None:
    plain = make_engine(branch_merge_project(), handlers=BRANCH_HANDLERS).run({"n": 2}, run_id="run-same")
    with in_memory_otel() as recorded:
        engine = make_engine({**branch_merge_project(), **sink({"capture_content": True})}, handlers=BRANCH_HANDLERS)
        observed = engine.run({"n": 2}, run_id="run-same")
    assert recorded.spans, "the sink recorded nothing, so the comparison would prove nothing"
    assert_same_trace(plain, observed)
    assert observed.trace.digest == plain.trace.digest
    assert observed.output == plain.output


def test_otel_sink_is_off_until_plugins_yaml_switches_it_on(make_engine: Any) -> None:
    with in_memory_otel() as recorded:
        engine: Engine = make_engine(decision_project(), handlers=DECISION_HANDLERS)
        engine.run({"text": "x"})
    assert recorded.spans == ()
    assert "agent-engine-otel" in engine.metadata["plugins"]


def test_otel_background_dispatch_builds_the_same_tree(make_engine: Any) -> None:
    project = {**branch_merge_project(), **sink()}
    project["plugins"]["plugins"][0]["dispatch"] = "background"
    with in_memory_otel() as recorded:
        engine = make_engine(project, handlers=BRANCH_HANDLERS)
        assert engine.run({"n": 1}).ok
        engine.close()  # drains the sink's queue
    _assert_one_tree(recorded)
    fan = recorded.one("fan")
    assert [recorded.parent_of(c) for c in recorded.named("clone fan")] == [fan, fan]


def test_otel_workflow_span_joins_the_callers_trace(make_engine: Any) -> None:
    with in_memory_otel() as recorded:
        engine = make_engine({**decision_project(), **sink()}, handlers=DECISION_HANDLERS)
        with recorded.tracer_provider.get_tracer("embedder").start_as_current_span("handle request") as request:
            assert engine.run({"text": "x"}).ok
    root = recorded.one("invoke_workflow workflow")
    assert root.parent is not None and root.parent.span_id == request.get_span_context().span_id
    assert root.context.trace_id == request.get_span_context().trace_id
