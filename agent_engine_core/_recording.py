"""The shape of a saved recording, checked before a ``Trace`` is rebuilt from it.

A recording is what ``agent-engine run --record FILE.json`` writes (``TaskResult.to_dict(with_trace=True)``),
or the bare ``trace`` inside it (``Trace.to_dict()``). The models list exactly the fields ``Trace.from_dict``
reads, with their JSON types, so a file of the wrong shape is refused with the place of each problem
(``trace.records.2.seq: Input should be a valid integer``) instead of failing half way with a ``KeyError``.
Fields the reader ignores (digests, metadata, timings it does not keep) may be present; they are not checked.

Imported only when a recording is read from a mapping or a file: pydantic is not part of the core's import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, JsonValue, Strict, ValidationError

from agent_engine_core.records import ErrorKind, Status
from agent_engine_core.tools import ToolStatus

__all__ = ["recording_problems"]

Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Number = Annotated[float, Strict()]

_MAX_PROBLEMS = 10
"""Enough to recognise what the file is; a file of another kind entirely would otherwise list hundreds."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class _Step(_Model):
    node_id: Str
    index: Int


class _Lineage(_Model):
    kind: Str
    parent_id: Str | None
    path: list[_Step]


class _Error(_Model):
    node_id: Str
    kind: ErrorKind
    message: Str
    details: JsonValue
    traceback: Str | None = None


class _Task(_Model):
    task_id: Str
    lineage: _Lineage
    status: Status
    output: JsonValue
    error: _Error | None


class _AgentCall(_Model):
    provider: Str
    model: Str
    request: JsonValue
    reply: JsonValue
    usage: dict[str, Int]
    latency_s: Number = 0.0
    error: Str | None = None
    attempts: list[dict[str, JsonValue]] = []


class _ToolCall(_Model):
    tool_id: Str
    call_id: Str | None
    arguments: JsonValue
    status: ToolStatus
    output: JsonValue
    error: Str | None
    meta: dict[str, JsonValue] | None = None


class _Record(_Model):
    task_id: Str
    node_id: Str
    seq: Int
    status: Status
    input: JsonValue
    output: JsonValue
    error: _Error | None
    route: list[Str]
    agent_calls: list[_AgentCall]
    tool_calls: list[_ToolCall] = []
    context: JsonValue = None
    started_at: Number = 0.0
    duration_s: Number = 0.0


class _Trace(_Model):
    run_id: Str
    tasks: list[_Task]
    records: list[_Record]


class _SavedResult(_Model):
    trace: _Trace


def recording_problems(data: Any) -> list[str]:
    """What keeps ``data`` from being a recording, each ``where: what`` (empty when it is one).

    A mapping with a ``trace`` key is read as a saved result, any other mapping as a bare trace.
    """
    if not isinstance(data, Mapping):
        return [f"(top level): a JSON object is needed, not {_json_type(data)}"]
    model: type[_Model] = _SavedResult if "trace" in data else _Trace
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in errors[:_MAX_PROBLEMS]]
        if len(errors) > _MAX_PROBLEMS:
            problems.append(f"and {len(errors) - _MAX_PROBLEMS} more")
        return problems
    return []


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
