"""Evaluations: what a case's run must show, checked against its ``TaskResult`` (SPEC §3.6).

``check_case`` is pure: it reads the result (output, status, trace, usage) and never runs anything, so the
same check serves ``agent-engine eval``, an embedder's ``Engine.evaluate`` and a test. Every assertion result
carries the value it actually found, so a failure says what the run did, not only that it differed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agent_engine_core.codec import dumps, loads
from agent_engine_core.records import Status, TaskResult

if TYPE_CHECKING:
    from agent_engine_core._schemas import SchemaSet
    from agent_engine_core.engine import Engine
    from agent_engine_core.manifests.evaluations import (
        ContainsAssertion,
        DecisionAssertion,
        EqualsAssertion,
        EvaluationCase,
        EvaluationsManifest,
        MaxAgentCallsAssertion,
        MaxTokensAssertion,
        PathTakenAssertion,
        RegexAssertion,
        SchemaValidAssertion,
        StatusAssertion,
        ToolCalledAssertion,
    )
    from agent_engine_core.memory import Artifact

__all__ = ["AssertionResult", "CaseResult", "check_case", "evaluate", "junit_xml", "resolve_pointer"]

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class AssertionResult:
    """One assertion of a case: whether it held, what it expected, what the run showed (JSON text), and why."""

    type: str
    passed: bool
    message: str
    expected_json: str
    actual_json: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``agent-engine eval --json``, the ``evaluation`` artifact)."""
        return {"type": self.type, "passed": self.passed, "message": self.message,
                "expected": loads(self.expected_json), "actual": loads(self.actual_json)}


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case's verdict: every assertion's result, and the run it checked."""

    suite: str
    case_id: str
    task_id: str
    status: Status
    trace_digest: str
    assertions: tuple[AssertionResult, ...]

    @property
    def passed(self) -> bool:
        """True when every assertion held."""
        return all(a.passed for a in self.assertions)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``agent-engine eval --json``, the ``evaluation`` artifact)."""
        return {"suite": self.suite, "case": self.case_id, "task_id": self.task_id, "status": str(self.status),
                "passed": self.passed, "trace_digest": self.trace_digest,
                "assertions": [a.to_dict() for a in self.assertions]}


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value at JSON Pointer ``pointer`` (RFC 6901) in ``document``; raises ``LookupError`` when there is none."""
    if pointer == "":
        return document
    value = document
    for token in pointer[1:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict):
            if key not in value:
                raise LookupError(f"no key '{key}'")
            value = value[key]
        elif isinstance(value, list):
            if not key.isdigit() or (len(key) > 1 and key.startswith("0")) or int(key) >= len(value):
                raise LookupError(f"no item '{key}' in a list of {len(value)}")
            value = value[int(key)]
        else:
            raise LookupError(f"'{key}' looked up in a {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class _Run:
    """What assertions read: the result, the project's schemas, each decision's edge labels by target."""

    result: TaskResult
    schemas: SchemaSet
    labels: Mapping[str, Mapping[str, str]]


def check_case(
    suite: str, case: EvaluationCase, result: TaskResult, *, schemas: SchemaSet,
    labels: Mapping[str, Mapping[str, str]],
) -> CaseResult:
    """Check every assertion of ``case`` against ``result``.

    ``labels`` maps each decision node to its edges' targets and their labels (``decision`` assertions read the
    edge a decision took from its recorded route); ``schemas`` are the project's (``schema_valid``).
    """
    run = _Run(result, schemas, labels)
    checked = tuple(_CHECKS[assertion.type](assertion, run) for assertion in case.assertions)
    return CaseResult(suite, case.id, result.task_id, result.status, result.trace.digest, checked)


def _status(assertion: StatusAssertion, run: _Run) -> AssertionResult:
    status = str(run.result.status)
    return _verdict("status", status == assertion.expected, assertion.expected, status,
                    f"status is {status}, expected {assertion.expected}")


def _at(path: str, run: _Run) -> tuple[Any, str]:
    """The output's value at ``path``; ``_MISSING`` and the reason when there is none."""
    try:
        return resolve_pointer(run.result.output, path), ""
    except LookupError as exc:
        return _MISSING, f"no value at {path or 'the output'}: {exc}"


def _equals(assertion: EqualsAssertion, run: _Run) -> AssertionResult:
    value, missing = _at(assertion.path, run)
    if value is _MISSING:
        return _verdict("equals", False, assertion.expected, None, missing)
    return _verdict("equals", value == assertion.expected, assertion.expected, value,
                    f"{assertion.path or 'the output'} is {_short(value)}, expected {_short(assertion.expected)}")


def _contains(assertion: ContainsAssertion, run: _Run) -> AssertionResult:
    value, missing = _at(assertion.path, run)
    if value is _MISSING:
        return _verdict("contains", False, assertion.expected, None, missing)
    wanted = assertion.expected
    if isinstance(value, str):
        held = isinstance(wanted, str) and wanted in value  # a substring
    elif isinstance(value, dict):
        held = isinstance(wanted, str) and wanted in value  # a key
    else:
        held = isinstance(value, list) and wanted in value  # an item (JSON equality)
    return _verdict("contains", held, wanted, value,
                    f"{assertion.path or 'the output'} ({_short(value)}) does not contain {_short(wanted)}")


def _regex(assertion: RegexAssertion, run: _Run) -> AssertionResult:
    value, missing = _at(assertion.path, run)
    if value is _MISSING:
        return _verdict("regex", False, assertion.pattern, None, missing)
    held = isinstance(value, str) and re.search(assertion.pattern, value) is not None
    return _verdict("regex", held, assertion.pattern, value,
                    f"{assertion.path or 'the output'} ({_short(value)}) does not match /{assertion.pattern}/")


def _schema_valid(assertion: SchemaValidAssertion, run: _Run) -> AssertionResult:
    value, missing = _at(assertion.path, run)
    if value is _MISSING:
        return _verdict("schema_valid", False, assertion.schema_, None, missing)
    violations = run.schemas.violations(run.schemas.validator(assertion.schema_), value)
    first = f" at {violations[0]['path']}: {violations[0]['message']}" if violations else ""
    return _verdict("schema_valid", not violations, assertion.schema_, value,
                    f"{assertion.path or 'the output'} does not match schema '{assertion.schema_}'{first}")


def _path_taken(assertion: PathTakenAssertion, run: _Run) -> AssertionResult:
    path = [r.node_id for r in run.result.trace.for_task(run.result.task_id)]
    held = path == list(assertion.expected) if assertion.exact else _in_order(assertion.expected, path)
    how = "exactly" if assertion.exact else "in this order"
    return _verdict("path_taken", held, assertion.expected, path,
                    f"the task ran {' -> '.join(path)}, expected {how} {' -> '.join(assertion.expected)}")


def _decision(assertion: DecisionAssertion, run: _Run) -> AssertionResult:
    node, labels = assertion.node, run.labels.get(assertion.node, {})
    taken = [labels.get(r.route[0], r.route[0]) for r in run.result.trace.records if r.node_id == node and r.route]
    if not taken:
        return _verdict("decision", False, assertion.expected, None, f"decision '{node}' never routed")
    held = all(label == assertion.expected for label in taken)
    return _verdict("decision", held, assertion.expected, taken if len(taken) > 1 else taken[0],
                    f"decision '{node}' took {', '.join(repr(t) for t in taken)}, expected {assertion.expected!r}")


def _tool_called(assertion: ToolCalledAssertion, run: _Run) -> AssertionResult:
    seen = [{"node": r.node_id, "tool": call.tool_id, "arguments": loads(call.arguments_json)}
            for r in run.result.trace.records for call in r.tool_calls
            if assertion.node is None or r.node_id == assertion.node]
    wanted = assertion.arguments or {}
    held = any(s["tool"] == assertion.tool and isinstance(s["arguments"], dict)
               and all(s["arguments"].get(k, _MISSING) == v for k, v in wanted.items()) for s in seen)
    at = f" at '{assertion.node}'" if assertion.node else ""
    with_args = f" with arguments {_short(wanted)}" if wanted else ""
    expected = {"tool": assertion.tool, "node": assertion.node, "arguments": assertion.arguments}
    calls_seen = ", ".join(f"{s['tool']}{_short(s['arguments'])}" for s in seen) or "none"
    return _verdict("tool_called", held, expected, seen,
                    f"tool '{assertion.tool}' was not called{at}{with_args} (calls{at}: {calls_seen})")


def _max_tokens(assertion: MaxTokensAssertion, run: _Run) -> AssertionResult:
    used = run.result.usage.get("input_tokens", 0) + run.result.usage.get("output_tokens", 0)
    return _verdict("max_tokens", used <= assertion.expected, assertion.expected, used,
                    f"the run used {used} tokens, at most {assertion.expected} allowed")


def _max_agent_calls(assertion: MaxAgentCallsAssertion, run: _Run) -> AssertionResult:
    calls = run.result.usage.get("agent_calls", 0)
    return _verdict("max_agent_calls", calls <= assertion.expected, assertion.expected, calls,
                    f"the run made {calls} agent calls, at most {assertion.expected} allowed")


_CHECKS: Mapping[str, Callable[[Any, _Run], AssertionResult]] = MappingProxyType({
    "status": _status, "equals": _equals, "contains": _contains, "regex": _regex, "schema_valid": _schema_valid,
    "path_taken": _path_taken, "decision": _decision, "tool_called": _tool_called, "max_tokens": _max_tokens,
    "max_agent_calls": _max_agent_calls,
})
"""The check of each assertion type (``manifests.evaluations.ASSERTION_TYPES``, in that order)."""


def _in_order(wanted: Sequence[str], path: Sequence[str]) -> bool:
    remaining = iter(path)
    return all(any(node == step for step in remaining) for node in wanted)


def _verdict(kind: str, held: bool, expected: Any, actual: Any, failure: str) -> AssertionResult:
    return AssertionResult(kind, held, "ok" if held else failure, dumps(expected), dumps(actual))


def _short(value: Any, limit: int = 80) -> str:
    text = dumps(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def evaluate(
    engine: Engine, evaluations: EvaluationsManifest, *, cases: Collection[str] = (), repeat: int = 1,
) -> tuple[CaseResult, ...]:
    """Run each case (those named in ``cases``, by id or ``suite/id``; all when empty) ``repeat`` times.

    Run ids are ``eval-<suite>-<case>`` (``-<n>`` added from the second repeat), so a case's trace is the same
    from one evaluation to the next while its handlers and agents are. Each verdict is stored as an
    ``evaluation`` artifact of its run.
    """
    from agent_engine_core._schemas import SchemaSet  # noqa: PLC0415 - jsonschema loads with the first check

    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    chosen = [(suite.id, case) for suite in evaluations.suites for case in suite.cases
              if not cases or case.id in cases or f"{suite.id}/{case.id}" in cases]
    unknown = sorted(set(cases) - {name for suite, case in chosen for name in (case.id, f"{suite}/{case.id}")})
    if unknown:
        raise LookupError(f"no evaluation case {', '.join(repr(u) for u in unknown)}")
    schemas = SchemaSet(engine.project.schemas)
    labels = {node.id: {edge.target: edge.label for edge in node.out_edges if edge.label is not None}
              for node in engine.dag.nodes.values()}
    verdicts = []
    for suite, case in chosen:
        for attempt in range(repeat):
            run_id = f"eval-{suite}-{case.id}" + (f"-{attempt + 1}" if attempt else "")
            judged: list[CaseResult] = []

            def judge(result: TaskResult, suite: str = suite, case: EvaluationCase = case,
                      run_id: str = run_id, judged: list[CaseResult] = judged) -> Artifact:
                judged.append(check_case(suite, case, result, schemas=schemas, labels=labels))
                return engine.artifacts.put("evaluation", result.task_id, dumps(judged[0].to_dict()),
                                            artifact_id=f"{run_id}:evaluation")

            engine.run_judged(case.input, judge, start=case.start, run_id=run_id)
            verdicts.extend(judged)
    return tuple(verdicts)


def junit_xml(verdicts: Sequence[CaseResult]) -> str:
    """JUnit XML of ``verdicts``: a test suite per evaluation suite, a test case per run of a case.

    A failed case carries one ``<failure>`` whose message names the first failed assertion and whose text
    lists every failed assertion with the value the run actually showed.
    """
    import xml.etree.ElementTree as ET  # noqa: PLC0415 - only the CLI's --junit writes XML

    root = ET.Element("testsuites", name="agent-engine eval", tests=str(len(verdicts)),
                      failures=str(sum(not v.passed for v in verdicts)))
    for suite in dict.fromkeys(v.suite for v in verdicts):
        members = [v for v in verdicts if v.suite == suite]
        element = ET.SubElement(root, "testsuite", name=suite, tests=str(len(members)),
                                failures=str(sum(not v.passed for v in members)), errors="0")
        for verdict in members:
            case = ET.SubElement(element, "testcase", classname=suite, name=verdict.case_id)
            failed = [a for a in verdict.assertions if not a.passed]
            if failed:
                failure = ET.SubElement(case, "failure", type=failed[0].type, message=failed[0].message)
                failure.text = "\n".join(f"{a.type}: {a.message} (expected {a.expected_json}, actual "
                                         f"{a.actual_json})" for a in failed)
            ET.SubElement(case, "system-out").text = f"task {verdict.task_id}, trace {verdict.trace_digest}"
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
