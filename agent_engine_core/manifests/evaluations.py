"""The model of evaluations.yaml (SPEC §3.6): cases, each an input and the assertions its run must meet.

Two spellings load: the SPEC's list of cases under ``evaluations:``, and the build plan's ``evaluations:
{suites: [{id, cases: [...]}]}``; a case of the plain list belongs to the suite ``default``. Assertion types
are matched without regard to case (the build plan writes ``STATUS``, the SPEC ``status``), and each type
has exactly the fields it reads, so a misspelt field or an unknown type is a located load error, never a
case that passes by checking nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)

from agent_engine_core.manifests._frozen import JSONObject, NonEmptyItems, freeze

__all__ = [
    "ASSERTION_TYPES",
    "Assertion",
    "ContainsAssertion",
    "DecisionAssertion",
    "EqualsAssertion",
    "EvaluationCase",
    "EvaluationSuite",
    "EvaluationsManifest",
    "MaxAgentCallsAssertion",
    "MaxTokensAssertion",
    "PathTakenAssertion",
    "RegexAssertion",
    "SchemaValidAssertion",
    "StatusAssertion",
    "ToolCalledAssertion",
]

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", min_length=1)]
Pointer = Annotated[str, StringConstraints(pattern=r"^(/.*)?$")]
"""A JSON Pointer (RFC 6901) into the task's output: ``""`` is the whole output, ``/a/0`` a part of it."""


JSON = Annotated[Any, AfterValidator(freeze)]
"""A JSON value as written, stored read-only."""


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Assertion(_Manifest):
    description: str | None = Field(None, description="What the assertion checks, shown when it fails.")


class StatusAssertion(_Assertion):
    """The task's final status."""

    type: Literal["status"]
    expected: Literal["success", "failure", "partial"]


class EqualsAssertion(_Assertion):
    """The value at ``path`` of the output equals ``expected`` (JSON equality)."""

    type: Literal["equals"]
    path: Pointer = ""
    expected: JSON


class ContainsAssertion(_Assertion):
    """The value at ``path`` contains ``expected``: a substring of a string, an item of a list, a key of an object."""

    type: Literal["contains"]
    path: Pointer = ""
    expected: JSON


class RegexAssertion(_Assertion):
    """The string at ``path`` matches ``pattern`` (Python ``re.search``)."""

    type: Literal["regex"]
    path: Pointer = ""
    pattern: str


class SchemaValidAssertion(_Assertion):
    """The value at ``path`` validates against the project's schema ``schema`` (a file stem of schemas/)."""

    type: Literal["schema_valid"]
    path: Pointer = ""
    schema_: Identifier = Field(alias="schema")


class PathTakenAssertion(_Assertion):
    """The nodes the root task ran, in order: exactly ``expected``, or (``exact: false``) ``expected`` among them.

    With ``exact: false`` the listed nodes must appear in that order, with any others between them.
    """

    type: Literal["path_taken"]
    expected: NonEmptyItems[Identifier]
    exact: bool = True


class DecisionAssertion(_Assertion):
    """The decision node ``node`` selected the edge labelled ``expected`` (every time it ran)."""

    type: Literal["decision"]
    node: Identifier
    expected: str


class ToolCalledAssertion(_Assertion):
    """Tool ``tool`` was invoked (at ``node``, if given), with ``arguments`` among its arguments when given."""

    type: Literal["tool_called"]
    tool: Identifier
    node: Identifier | None = None
    arguments: JSONObject | None = None


class MaxTokensAssertion(_Assertion):
    """The run's agent calls used at most ``expected`` tokens, input and output together."""

    type: Literal["max_tokens"]
    expected: Annotated[int, Field(ge=0)]


class MaxAgentCallsAssertion(_Assertion):
    """The run made at most ``expected`` agent calls."""

    type: Literal["max_agent_calls"]
    expected: Annotated[int, Field(ge=0)]


Assertion = Annotated[
    StatusAssertion | EqualsAssertion | ContainsAssertion | RegexAssertion | SchemaValidAssertion
    | PathTakenAssertion | DecisionAssertion | ToolCalledAssertion | MaxTokensAssertion | MaxAgentCallsAssertion,
    Field(discriminator="type"),
]

ASSERTION_TYPES = ("status", "equals", "contains", "regex", "schema_valid", "path_taken", "decision",
                   "tool_called", "max_tokens", "max_agent_calls")


class EvaluationCase(_Manifest):
    """One case: the input a run starts from, where it starts, and what its result must show."""

    id: Identifier
    description: str | None = None
    input: JSON = None
    start: Identifier | None = Field(None, description="The start node; the workflow's default when omitted.")
    assertions: NonEmptyItems[Assertion] = Field(description="Every one must hold for the case to pass.")

    @model_validator(mode="before")
    @classmethod
    def _lower_types(cls, data: Any) -> Any:
        """Assertion types match without regard to case, also for choosing which model reads the assertion."""
        if isinstance(data, dict) and isinstance(data.get("assertions"), list):
            data = {**data, "assertions": [
                {**a, "type": a["type"].lower()} if isinstance(a, dict) and isinstance(a.get("type"), str) else a
                for a in data["assertions"]
            ]}
        return data


class EvaluationSuite(_Manifest):
    """Cases grouped under a name (the build plan's ``suites:``)."""

    id: Identifier
    description: str | None = None
    cases: NonEmptyItems[EvaluationCase]


class _Suites(_Manifest):
    suites: NonEmptyItems[EvaluationSuite]


class EvaluationsManifest(_Manifest):
    """evaluations.yaml: a list of cases, or ``suites:`` of cases."""

    evaluations: Annotated[
        Annotated[NonEmptyItems[EvaluationCase], Tag("cases")] | Annotated[_Suites, Tag("suites")],
        Discriminator(lambda data: "suites" if isinstance(data, dict) else "cases"),
    ] = Field(description="The cases, or the build plan's suites: [{id, cases}].")

    @property
    def suites(self) -> tuple[EvaluationSuite, ...]:
        """Every suite, in file order (a plain list of cases is the suite ``default``)."""
        if isinstance(self.evaluations, _Suites):
            return self.evaluations.suites
        return (EvaluationSuite.model_construct(id="default", description=None, cases=self.evaluations),)

    def case_paths(self) -> Iterator[tuple[EvaluationCase, list[str | int]]]:
        """Every case with its path in the file (``evaluations.0`` or ``evaluations.suites.0.cases.0``)."""
        suites = isinstance(self.evaluations, _Suites)
        for s, suite in enumerate(self.suites):
            for c, case in enumerate(suite.cases):
                yield case, ["evaluations", "suites", s, "cases", c] if suites else ["evaluations", c]

    @model_validator(mode="after")
    def _unique_ids(self) -> EvaluationsManifest:
        seen: set[tuple[str, str]] = set()
        for suite in self.suites:
            for case in suite.cases:
                if (suite.id, case.id) in seen:
                    raise ValueError(f"case id '{case.id}' is used twice in suite '{suite.id}'")
                seen.add((suite.id, case.id))
        return self
