"""Read trace files back, and rebuild a run's canonical ``Trace`` (and so its digest) from the events.

``read_trace`` is what ``agent-engine inspect`` reads recorded runs with: a run's rotated files oldest first,
then its active file, in the order the lines were written. Only the very last line of a run can be torn (the
process died mid-write); it is skipped with a ``TornLineWarning``. Damage anywhere else is not a crash
artefact, so it raises instead of being skipped silently.

``rebuild_trace`` needs no core helper: ``node_finished``/``node_failed`` carry every field of a stage record,
``agent_call`` the calls that precede them, ``task_started``/``task_finished`` a task summary's lineage,
status, output and error (docs/EVENTS.md). The one thing the events do not spell out is the ``stage`` of each
lineage step, which orders children of successive fan-outs; it is the parent's stage at the creating node.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agent_engine_core.records import (
    AgentCall,
    ErrorKind,
    Lineage,
    LineageStep,
    StageError,
    StageRecord,
    Status,
    TaskSummary,
    Trace,
)
from agent_engine_core.tools import ToolInvocation, ToolStatus

from agent_engine_telemetry_jsonl._names import parse_file_name, trace_stem

__all__ = ["TornLineWarning", "read_trace", "rebuild_trace"]

Events = list[dict[str, Any]]

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
"""The core's JSON text form (compact, UTF-8): re-encoding a decoded payload gives back the recorded text."""


class TornLineWarning(UserWarning):
    """A trace file ends in an unfinished line (the writer stopped mid-line); the line was skipped."""


def read_trace(path_or_dir: str | os.PathLike[str], run_id: str | None = None) -> Events:
    """The recorded events, as dicts, in the order they were written.

    Args:
        path_or_dir: a trace folder, or any file of one run (active or rotated: the whole run is read).
        run_id: with a folder, read only this run's files; with a file, keep only this run's events.
            Without it, a folder gives every run's events, run after run (by file name).

    Raises:
        FileNotFoundError: nothing at ``path_or_dir``, or no file for ``run_id`` in the folder.
        ValueError: a line other than a run's last one is not a JSON event (``file:line`` in the message).
    """
    path = Path(path_or_dir)
    if path.is_dir():
        groups = _runs_in(path)
        if run_id is not None:
            stem = trace_stem(run_id)
            if stem not in groups:
                raise FileNotFoundError(f"no trace of run {run_id!r} in {path} (looked for {stem}.jsonl)")
            groups = {stem: groups[stem]}
        selected = [groups[stem] for stem in sorted(groups)]
    elif path.is_file():
        selected = [_run_of(path)]
    else:
        raise FileNotFoundError(f"no trace file or folder at {path}")
    events: Events = []
    torn: list[str] = []
    for files in selected:
        for position, file in enumerate(files):
            events.extend(_read_file(file, last=position == len(files) - 1, torn=torn))
    for message in torn:
        warnings.warn(message, TornLineWarning, stacklevel=2)
    if run_id is not None:
        events = [event for event in events if event.get("run_id") == run_id]
    return events


def _runs_in(directory: Path) -> dict[str, list[Path]]:
    """Trace files by run stem, each list oldest first (highest rotation number first, active last)."""
    found: dict[str, list[tuple[int, Path]]] = {}
    for entry in directory.iterdir():
        parsed = parse_file_name(entry.name)
        if parsed is not None and entry.is_file():
            found.setdefault(parsed[0], []).append((parsed[1], entry))
    return {stem: _oldest_first(files) for stem, files in found.items()}


def _oldest_first(files: list[tuple[int, Path]]) -> list[Path]:
    """Rotated files by descending number, then the active one (number 0)."""
    return [path for _, path in sorted(files, key=lambda item: (item[0] == 0, -item[0]))]


def _run_of(file: Path) -> list[Path]:
    """All files of the run ``file`` belongs to (just ``file`` when its name is not a trace file's)."""
    parsed = parse_file_name(file.name)
    if parsed is None:
        return [file]
    return _runs_in(file.parent)[parsed[0]]


def _read_file(file: Path, *, last: bool, torn: list[str]) -> Iterator[dict[str, Any]]:
    """The events of one file; a torn final line of a run's ``last`` file is skipped and noted in ``torn``."""
    with file.open("rb") as handle:
        lines = list(handle)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            event = json.loads(raw)
        except ValueError as exc:
            if last and number == len(lines) and not raw.endswith(b"\n"):
                torn.append(f"{file}:{number}: skipped a torn last line ({len(raw)} bytes)")
                return
            raise ValueError(f"{file}:{number}: not a JSON event: {exc}") from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ValueError(f"{file}:{number}: not an event (a JSON object with a 'type')")
        yield event


def rebuild_trace(events: Iterable[Mapping[str, Any]]) -> Trace:
    """The canonical ``Trace`` of one run, rebuilt from its recorded events (e.g. ``read_trace(...)``).

    When a file holds a run id that was run more than once, the last run (from its root ``task_started``)
    is rebuilt. ``rebuild_trace(events).digest`` equals the run's ``result.trace.digest`` when every event
    was recorded; timings are the recorded ones and are not part of the digest.

    Raises:
        ValueError: the events belong to several runs, or some are missing (a gap in a task's ``seq``, a
            task without ``task_finished``): e.g. a background queue overflowed while recording.
    """
    run = _last_run(list(events))
    run_id = run[0]["run_id"]
    lineages: dict[str, Mapping[str, Any]] = {}
    finished: dict[str, Mapping[str, Any]] = {}
    started_at: dict[str, float] = {}
    calls: dict[str, list[AgentCall]] = {}
    tools: dict[str, list[ToolInvocation]] = {}
    contexts: dict[str, Any] = {}
    records: list[StageRecord] = []
    for event in run:
        kind, task = event["type"], event["task_id"]
        if kind == "task_started":
            lineages[task] = event["lineage"]
        elif kind == "task_finished":
            finished[task] = event
        elif kind == "node_started":
            started_at[task] = event["timestamp"]
        elif kind == "agent_call":
            calls.setdefault(task, []).append(_agent_call(event))
        elif kind == "tool_invoked":
            tools.setdefault(task, []).append(_tool_invocation(event))
        elif kind == "context_assembled":
            contexts[task] = event["entries"]
        elif kind in ("node_finished", "node_failed"):
            record = _stage_record(event, tuple(calls.pop(task, ())), tuple(tools.pop(task, ())),
                                   started_at.pop(task, 0.0))
            if task in contexts:
                record = record._replace(context_json=_encoder.encode(contexts.pop(task)))
            records.append(record)
    unfinished = sorted(set(lineages) ^ set(finished))
    if unfinished:
        raise ValueError(f"incomplete trace of run {run_id!r}: no start or no end for {', '.join(unfinished)}")
    stages = {(record.task_id, record.node_id): record.seq for record in records}
    built: dict[str, Lineage] = {}
    for task in lineages:
        _lineage(task, lineages, stages, built)
    summaries = sorted(
        (_summary(task, built[task], finished[task]) for task in lineages), key=lambda s: s.lineage.sort_key()
    )
    records.sort(key=lambda record: (built[record.task_id].sort_key(), record.seq))
    return Trace(run_id, tuple(summaries), tuple(records))


def _last_run(events: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The events from the last root ``task_started`` on, checked to be one run with no gaps."""
    run_ids = sorted({str(event["run_id"]) for event in events})
    if len(run_ids) != 1:
        raise ValueError(f"events of exactly one run are needed, got {len(run_ids)} ({', '.join(run_ids)})")
    starts = [i for i, e in enumerate(events) if e["type"] == "task_started" and e["task_id"] == run_ids[0]]
    if not starts:
        raise ValueError(f"incomplete trace of run {run_ids[0]!r}: its root task_started is missing")
    run = events[starts[-1]:]
    last: dict[str, int] = {}
    for event in run:
        task, seq = event["task_id"], event["seq"]
        if seq != last.get(task, 0) + 1:
            raise ValueError(f"incomplete trace of run {run_ids[0]!r}: task {task} jumps to seq {seq} "
                             f"after {last.get(task, 0)} (events were lost while recording)")
        last[task] = seq
    return run


def _lineage(
    task: str, lineages: Mapping[str, Mapping[str, Any]], stages: Mapping[tuple[str, str], int],
    built: dict[str, Lineage],
) -> Lineage:
    """A task's ``Lineage`` with each step's stage: the parent's stage at the branch/split that made it."""
    found = built.get(task)
    if found is not None:
        return found
    data = lineages[task]
    parent = data["parent_id"]
    if parent is None:
        lineage = Lineage(data["kind"])
    else:
        step = data["path"][-1]
        try:
            stage = stages[(parent, step["node_id"])]
            parent_path = _lineage(parent, lineages, stages, built).path
        except KeyError:
            raise ValueError(f"incomplete trace: the stage of {parent} that created {task} is missing") from None
        lineage = Lineage(data["kind"], parent, (*parent_path, LineageStep(step["node_id"], step["index"], stage)))
    built[task] = lineage
    return lineage


def _error(data: Mapping[str, Any] | None) -> StageError | None:
    if data is None:
        return None
    return StageError(data["node_id"], ErrorKind(data["kind"]), data["message"], _encoder.encode(data["details"]),
                      data.get("traceback"))


def _agent_call(event: Mapping[str, Any]) -> AgentCall:
    return AgentCall(event["provider"], event["model"], _encoder.encode(event["request"]),
                     _encoder.encode(event["reply"]), MappingProxyType(dict(event["usage"])), event["latency_s"],
                     event.get("error"))


def _tool_invocation(event: Mapping[str, Any]) -> ToolInvocation:
    result = event["result"]
    return ToolInvocation(event["tool_id"], _encoder.encode(event["arguments"]), ToolStatus(event["status"]),
                          _encoder.encode(result["output"]), result["error"], event.get("call_id"))


def _stage_record(
    event: Mapping[str, Any], calls: tuple[AgentCall, ...], tools: tuple[ToolInvocation, ...], started_at: float
) -> StageRecord:
    return StageRecord(
        task_id=event["task_id"], node_id=event["node_id"], seq=event["stage"], status=Status(event["status"]),
        input_json=_encoder.encode(event["input"]), output_json=_encoder.encode(event["output"]),
        error=_error(event["error"]), route=tuple(event["route"]), agent_calls=calls, tool_calls=tools,
        started_at=started_at, duration_s=event["duration_s"],
    )


def _summary(task: str, lineage: Lineage, event: Mapping[str, Any]) -> TaskSummary:
    return TaskSummary(task, lineage, Status(event["status"]), _encoder.encode(event["output"]),
                       _error(event["error"]))
