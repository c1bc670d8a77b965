"""evaluations.yaml cases checked against real runs: every assertion type passes when it holds and fails, with
the value the run showed, when it does not."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from _agent_kit import TOOLS, Kit, Script, reply
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agent_engine_core import Engine
from agent_engine_core.evaluations import evaluate, junit_xml, resolve_pointer
from agent_engine_core.manifests.evaluations import EvaluationsManifest

SUMMARY = {"type": "object", "required": ["title"], "properties": {"title": {"type": "string"}}}


def pick(payload, ctx):
    return "large" if payload["n"] > 10 else "small"


def big(payload, ctx):
    total = ctx.tools.add(a=payload["n"], b=1)
    return {"title": "Big", "body": f"total {total.output}", "tags": ["big", "moon"]}


def small(payload, ctx):
    return {"title": 7, "body": "tiny"}


@pytest.fixture(scope="module")
def engine():
    workflow = {"version": "1.0", "nodes": [
        {"id": "begin", "role": "start"},
        {"id": "pick", "role": "decision", "handler": "h:pick"},
        {"id": "big", "role": "linear", "handler": "h:big", "tools": ["add"]},
        {"id": "small", "role": "linear", "handler": "h:small"},
        {"id": "ask", "role": "linear", "kind": "agent", "agent_id": "helper"},
        {"id": "out", "role": "exit"}, {"id": "out_small", "role": "exit"}],
        "edges": [{"from": "begin", "to": "pick"}, {"from": "pick", "to": "big", "label": "large"},
                  {"from": "pick", "to": "small", "label": "small"}, {"from": "big", "to": "ask"},
                  {"from": "small", "to": "out_small"}, {"from": "ask", "to": "out"}]}
    agents = {"agents": [{"id": "helper", "llm": "scriptable/m-1", "prompt": "Echo."}]}
    kit = Kit(Script(*[reply({"title": "Big", "body": "total 21", "tags": ["big", "moon"]})] * 500))
    eng = Engine.from_dict({"workflow": workflow, "agents": agents, "tools": TOOLS, "schemas": {"summary": SUMMARY}},
                           handlers={"h:pick": pick, "h:big": big, "h:small": small}, plugins=[kit])
    yield eng
    eng.close()


def verdict(engine, assertion, *, n=20):
    manifest = EvaluationsManifest.model_validate(
        {"evaluations": [{"id": "case", "input": {"n": n}, "assertions": [assertion]}]})
    (result,) = evaluate(engine, manifest)
    (checked,) = result.assertions
    return checked


@pytest.mark.parametrize("assertion", [
    {"type": "status", "expected": "success"},
    {"type": "EQUALS", "path": "/title", "expected": "Big"},
    {"type": "contains", "path": "/body", "expected": "total 21"},
    {"type": "contains", "path": "/tags", "expected": "moon"},
    {"type": "contains", "expected": "title"},
    {"type": "regex", "path": "/body", "pattern": r"^total \d+$"},
    {"type": "schema_valid", "schema": "summary"},
    {"type": "path_taken", "expected": ["begin", "pick", "big", "ask", "out"]},
    {"type": "path_taken", "expected": ["pick", "out"], "exact": False},
    {"type": "decision", "node": "pick", "expected": "large"},
    {"type": "tool_called", "tool": "add"},
    {"type": "tool_called", "node": "big", "tool": "add", "arguments": {"a": 20}},
    {"type": "max_tokens", "expected": 13},
    {"type": "max_agent_calls", "expected": 1},
])
def test_an_assertion_that_holds_passes(engine, assertion):
    checked = verdict(engine, assertion)
    assert (checked.passed, checked.message) == (True, "ok")


@pytest.mark.parametrize(("assertion", "message", "actual"), [
    ({"type": "status", "expected": "failure"}, "status is success, expected failure", "success"),
    ({"type": "equals", "path": "/title", "expected": "Haiku"}, '/title is "Big", expected "Haiku"', "Big"),
    ({"type": "equals", "path": "/missing", "expected": 1}, "no value at /missing: no key 'missing'", None),
    ({"type": "contains", "path": "/body", "expected": "moon"}, '/body ("total 21") does not contain "moon"',
     "total 21"),
    ({"type": "regex", "path": "/body", "pattern": "^x"}, '/body ("total 21") does not match /^x/', "total 21"),
    ({"type": "path_taken", "expected": ["begin", "pick", "small", "ask", "out"]},
     "the task ran begin -> pick -> big -> ask -> out, expected exactly begin -> pick -> small -> ask -> out",
     ["begin", "pick", "big", "ask", "out"]),
    ({"type": "path_taken", "expected": ["big", "pick"], "exact": False},
     "the task ran begin -> pick -> big -> ask -> out, expected in this order big -> pick",
     ["begin", "pick", "big", "ask", "out"]),
    ({"type": "decision", "node": "pick", "expected": "small"}, "decision 'pick' took 'large', expected 'small'",
     "large"),
    ({"type": "tool_called", "tool": "upper"}, "tool 'upper' was not called (calls: add{\"a\":20,\"b\":1})",
     [{"node": "big", "tool": "add", "arguments": {"a": 20, "b": 1}}]),
    ({"type": "tool_called", "node": "big", "tool": "add", "arguments": {"a": 3}},
     "tool 'add' was not called at 'big' with arguments {\"a\":3} (calls at 'big': add{\"a\":20,\"b\":1})",
     [{"node": "big", "tool": "add", "arguments": {"a": 20, "b": 1}}]),
    ({"type": "max_tokens", "expected": 12}, "the run used 13 tokens, at most 12 allowed", 13),
    ({"type": "max_agent_calls", "expected": 0}, "the run made 1 agent calls, at most 0 allowed", 1),
])
def test_an_assertion_that_does_not_hold_fails_saying_what_the_run_showed(engine, assertion, message, actual):
    checked = verdict(engine, assertion)
    assert checked.passed is False
    assert checked.message == message
    assert checked.to_dict()["actual"] == actual


def test_schema_valid_names_the_first_violation(engine):
    checked = verdict(engine, {"type": "schema_valid", "schema": "summary"}, n=1)  # small: title is a number
    assert checked.passed is False
    assert checked.message == "the output does not match schema 'summary' at /title: 7 is not of type 'string'"


def test_the_build_plans_suites_load_with_upper_case_types_and_cases_are_chosen_by_id(engine):
    status = {"type": "STATUS", "expected": "success"}
    title = {"type": "Equals", "path": "/title", "expected": "Big"}
    manifest = EvaluationsManifest.model_validate({"evaluations": {"suites": [
        {"id": "one", "cases": [{"id": "a", "input": {"n": 20}, "assertions": [status]},
                                {"id": "b", "input": {"n": 1}, "assertions": [title]}]},
        {"id": "two", "cases": [{"id": "a", "input": {"n": 1}, "assertions": [status]}]}]}})
    assert [(v.suite, v.case_id, v.passed) for v in evaluate(engine, manifest)] == [
        ("one", "a", True), ("one", "b", False), ("two", "a", True)]
    assert [(v.suite, v.case_id) for v in evaluate(engine, manifest, cases=["two/a", "b"])] == [
        ("one", "b"), ("two", "a")]
    with pytest.raises(LookupError, match="no evaluation case 'c'"):
        evaluate(engine, manifest, cases=["c"])


def test_each_verdict_is_stored_as_an_evaluation_artifact_of_its_run(engine):
    manifest = EvaluationsManifest.model_validate(
        {"evaluations": [{"id": "stored", "input": {"n": 20}, "assertions": [{"type": "status",
                                                                             "expected": "success"}]}]})
    (first, second) = evaluate(engine, manifest, repeat=2)
    assert (first.task_id, second.task_id) == ("eval-default-stored", "eval-default-stored-2")
    assert first.trace_digest != second.trace_digest  # another run id, so other task ids in the trace
    (artifact,) = engine.artifacts.query(kind="evaluation", task_id="eval-default-stored")
    assert artifact.payload["passed"] is True and artifact.payload["case"] == "stored"


@pytest.mark.parametrize(("case", "problem"), [
    ({"id": "c", "assertions": [{"type": "sameish", "expected": 1}]}, "does not match any of the expected tags"),
    ({"id": "c", "assertions": [{"type": "equals", "path": "/a", "expectd": 1}]}, "expectd"),
    ({"id": "c", "assertions": [{"type": "equals", "path": "a", "expected": 1}]}, "String should match pattern"),
    ({"id": "c", "assertions": []}, "at least 1 item"),
    ({"id": "c", "assertions": [{"type": "max_tokens", "expected": -1}]}, "greater than or equal to 0"),
    ({"id": "c", "assertions": [{"type": "status", "expected": "ok"}]}, "'success', 'failure' or 'partial'"),
])
def test_a_malformed_case_is_refused_not_passed(case, problem):
    with pytest.raises(ValidationError, match=problem):
        EvaluationsManifest.model_validate({"evaluations": [case]})


def test_a_case_id_used_twice_in_one_suite_is_refused():
    case = {"id": "dup", "assertions": [{"type": "status", "expected": "success"}]}
    with pytest.raises(ValidationError, match="case id 'dup' is used twice in suite 'default'"):
        EvaluationsManifest.model_validate({"evaluations": [case, case]})


def test_junit_xml_has_a_testcase_per_run_and_failures_carry_the_assertion_and_actual_value(engine):
    manifest = EvaluationsManifest.model_validate({"evaluations": [
        {"id": "ok", "input": {"n": 20}, "assertions": [{"type": "status", "expected": "success"}]},
        {"id": "bad", "input": {"n": 20}, "assertions": [{"type": "decision", "node": "pick", "expected": "small"},
                                                         {"type": "equals", "path": "/title", "expected": "Big"}]}]})
    root = ET.fromstring(junit_xml(evaluate(engine, manifest)))
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "2", "1")
    (suite,) = root
    assert [(c.get("classname"), c.get("name")) for c in suite.iter("testcase")] == [("default", "ok"),
                                                                                       ("default", "bad")]
    (failure,) = suite.iter("failure")
    assert failure.get("type") == "decision"
    assert failure.get("message") == "decision 'pick' took 'large', expected 'small'"
    assert failure.text == ("decision: decision 'pick' took 'large', expected 'small' (expected \"small\", "
                            "actual \"large\")")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                max_size=3), max_leaves=10)


def _pointers(value, prefix=""):
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _pointers(item, f"{prefix}/{key.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _pointers(item, f"{prefix}/{index}")


@settings(max_examples=80, deadline=None)
@given(JSON)
def test_every_pointer_into_a_document_resolves_to_the_value_it_names(document):
    for pointer, value in _pointers(document):
        assert resolve_pointer(document, pointer) == value


@pytest.mark.parametrize(("document", "pointer", "reason"), [
    ({"a": 1}, "/b", "no key 'b'"), ([1, 2], "/2", "no item '2' in a list of 2"), ([1], "/01", "no item '01'"),
    ([1], "/-", "no item '-'"), ({"a": 1}, "/a/b", "'b' looked up in a int"),
])
def test_a_pointer_to_nothing_says_why(document, pointer, reason):
    with pytest.raises(LookupError, match=reason):
        resolve_pointer(document, pointer)
