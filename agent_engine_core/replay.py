"""Replay: re-execute a recorded run with every agent answered from the recording, and prove it matches.

A recording is a ``Trace``: the ``trace`` of a result saved with ``agent-engine run --record FILE`` (or
``result.to_dict(with_trace=True)``), or one rebuilt from the events a plugin read (``read_trace_events``: the
trace files of ``agent-engine-telemetry-jsonl``).
Handlers and tools run again; the provider calls are answered from the recording (by task, node and tool
round), and so are the calls of external tools (``external = True``: an MCP server's), by task, node, tool and
arguments; each stage's context is the recorded one. The replayed trace must be byte-identical to the
recorded one; the first stage that is not raises ``ReplayMismatch`` naming it.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agent_engine_core._build.components import distribution_hint
from agent_engine_core._build.context import Assembled, TaskItems
from agent_engine_core.codec import JSONValueError, dumps, loads
from agent_engine_core.errors import InvalidInput, ProviderError, ReplayMismatch
from agent_engine_core.ids import child_task_id
from agent_engine_core.llm import LlmReply, LlmRequest, ProviderSetup, ToolCall
from agent_engine_core.records import AgentCall, LineageStep, StageError, StageRecord, Status, TaskSummary, Trace
from agent_engine_core.tools import BoundTool, ToolInvocation, ToolResult, current_scope

if TYPE_CHECKING:
    from agent_engine_core.manifests.models import ContextProfile

__all__ = ["Prefix", "RecordedContext", "RecordedTools", "ReplayProvider", "check_replay", "load_recording",
           "prefix_before", "replay_provider"]

Recording = Trace | Mapping[str, Any] | str | Path
ReadEvents = Callable[..., Sequence[Mapping[str, Any]] | None]
"""Reads a recorded run's events: ``read(path=..., run_id=...)``, ``None`` when no reader knows the path."""


_RECORDING_HINT = ("A recording is a run id in the project's run store ('agent-engine inspect DIR runs'), the result "
                   "saved by 'agent-engine run DIR --input JSON --record FILE.json', or a telemetry-jsonl trace "
                   "file or folder (written when plugins.yaml has 'id: trace_file').")
"""What the refusal of something that is not a recording says it should have been."""


def load_recording(
    source: Recording, *, run_id: str | None = None, read_events: ReadEvents | None = None
) -> Trace:
    """The recorded trace in ``source``: a ``Trace``, a result or trace mapping, or a file/folder path.

    A ``.json`` file holds a result saved with its trace (or a bare trace). Any other path is read by a plugin
    through ``read_events`` (the engine passes its ``read_trace_events`` hook, so an installed
    agent-engine-telemetry-jsonl reads its trace files and folders; ``run_id`` picks the run in a folder of
    several) and the trace is rebuilt from the events. Anything else raises ``InvalidInput`` naming the file,
    what is wrong with it, and what a recording is.
    """
    if isinstance(source, Trace):
        return source
    if isinstance(source, Mapping):
        return _from_mapping(source, "the recording")
    path = Path(source)
    if not path.exists():
        raise _not_a_recording(path, "no such file or folder")
    if path.suffix == ".json":
        return _from_mapping(_read_json(path), str(path))
    return _from_events(path, run_id, read_events)


def _not_a_recording(where: Path | str, problem: str) -> InvalidInput:
    """The refusal: where, what is wrong (a ``problem`` located in ``where`` already is not located twice)."""
    located = problem if problem.startswith(f"{where}:") else f"{where}: {problem}"
    return InvalidInput(f"cannot replay {located}\n{_RECORDING_HINT}")


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _not_a_recording(path, f"cannot be read ({problem})") from None
    if not text.strip():
        raise _not_a_recording(path, "the file is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _not_a_recording(f"{path}:{exc.lineno}:{exc.colno}", f"not JSON ({exc.msg})") from None


def _from_mapping(data: Any, where: str) -> Trace:
    from agent_engine_core._recording import recording_problems  # noqa: PLC0415 - pydantic: only when reading one

    problems = recording_problems(data)
    if problems:
        raise _not_a_recording(where, "it is not a recording: " + "; ".join(problems))
    try:
        return Trace.from_dict(data.get("trace", data))
    except JSONValueError as exc:  # a value no run could have recorded (an integer beyond 64 bits)
        raise _not_a_recording(where, f"it is not a recording: it holds a value no run records ({exc})") from None


def _from_events(path: Path, run_id: str | None, read_events: ReadEvents | None) -> Trace:
    """The trace rebuilt from the events a plugin read; what it warned about is reported once, with the rest."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            events = None if read_events is None else read_events(path=path, run_id=run_id)
        except (OSError, ValueError) as exc:
            raise _not_a_recording(path, str(exc)) from None
    notes = [w for w in caught if issubclass(w.category, UserWarning)]
    for w in caught:
        if not issubclass(w.category, UserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if events is None:
        raise _not_a_recording(path, "not a .json file, and no installed plugin reads it as a trace; reading a "
                                     "telemetry-jsonl trace needs the agent-engine-telemetry-jsonl distribution "
                                     f"({distribution_hint('telemetry_sink', 'trace_file')})")
    if not events:
        raise _not_a_recording(path, "it holds no recorded events" + (f" of run {run_id!r}" if run_id else ""))
    try:
        trace = Trace.from_events(events)
    except (ValueError, KeyError, TypeError) as exc:  # a reader checks its format, not each event type's fields
        problem = {KeyError: f"an event lacks the field {exc}",
                   TypeError: f"an event has a field of the wrong type ({exc})"}.get(type(exc), str(exc))
        if notes:
            problem = f"{'; '.join(str(w.message) for w in notes)}; without what was skipped: {problem}"
        raise _not_a_recording(path, problem) from None
    for w in notes:
        warnings.warn(str(w.message), w.category, stacklevel=3)
    return trace


def _stage_key(task_id: str, node_id: str) -> tuple[str, str]:
    """Task ids without their run id, so a recording answers runs with any run id."""
    return task_id.partition("/")[2], node_id


class ReplayProvider:
    """Answers each provider call from the recording: the same task and node, the same tool round.

    Stateless per call (the round is the number of model turns already in the request), so concurrent
    fan-outs and repeated runs get the same answers. A recorded failure is raised again as ``ProviderError``.
    """

    def __init__(self, trace: Trace) -> None:
        self._calls: dict[tuple[str, str], tuple[AgentCall, ...]] = {
            _stage_key(record.task_id, record.node_id): record.agent_calls for record in trace.records
            if record.agent_calls
        }

    def check(self, node_ids: Sequence[str]) -> list[str]:
        """Agent nodes the recording never called (they could only fail on replay)."""
        called = {node for _, node in self._calls}
        return [f"the recording has no answer for node '{n}'" for n in node_ids if n not in called]

    async def complete(self, request: LlmRequest) -> LlmReply:
        """The recorded reply to this call, or the recorded failure."""
        round_number = sum(1 for message in request.messages if message.get("role") == "assistant")
        calls = self._calls.get(_stage_key(request.task_id, request.node_id), ())
        if round_number >= len(calls):
            raise ProviderError(f"the recording has no answer for node '{request.node_id}' of task "
                                f"'{request.task_id}' (call {round_number + 1})", provider="replay")
        call = calls[round_number]
        if call.error is not None:
            raise ProviderError(call.error, provider="replay")
        reply = loads(call.reply_json)
        return LlmReply(
            content=reply["content"], model=reply["model"], usage=MappingProxyType(dict(call.usage)),
            finish_reason=reply["finish_reason"], response_id=reply["response_id"],
            tool_calls=tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in reply["tool_calls"]),
        )


class RecordedTools:
    """Answers the calls of external tools from the recording: the same stage, tool and arguments, in call order.

    One per replay: each recorded call answers once, so a stage that calls a tool twice with the same arguments
    gets the two recorded answers in order. A call the recording does not have is an environment error of that
    call (the replayed stage then differs from the recorded one, and the replay names it).
    """

    def __init__(self, trace: Trace) -> None:
        self._calls: dict[tuple[str, str, str, str], list[ToolInvocation]] = {}
        for record in trace.records:
            for call in record.tool_calls:
                key = (*_stage_key(record.task_id, record.node_id), call.tool_id, call.arguments_json)
                self._calls.setdefault(key, []).append(call)
        self._lock = threading.Lock()

    def answering(self, tools: Mapping[str, BoundTool]) -> Mapping[str, BoundTool]:
        """``tools`` with each external one answered from the recording (the others as they are)."""
        return MappingProxyType({tool_id: replace(bound, tool=_RecordedTool(self, bound)) if bound.external else bound
                                 for tool_id, bound in tools.items()})

    def answer(self, tool_id: str, arguments: Mapping[str, Any]) -> ToolResult:
        """The recorded result of this call at the stage it is made for."""
        scope = current_scope()
        if scope is None:
            return ToolResult.environment(f"tool '{tool_id}' is answered from a recording, outside any stage")
        key = (*_stage_key(scope.task_id, scope.node_id), tool_id, dumps(arguments))
        with self._lock:
            waiting = self._calls.get(key)
            call = waiting.pop(0) if waiting else None
        if call is None:
            return ToolResult.environment(f"the recording has no call of tool '{tool_id}' with these arguments at "
                                          f"node '{scope.node_id}' of task '{scope.task_id}'")
        return call.result


class _RecordedTool:
    """An external tool as a replay sees it: its description and parameters, its answers from the recording."""

    external = True

    def __init__(self, recorded: RecordedTools, bound: BoundTool) -> None:
        self._recorded, self._tool_id = recorded, bound.id
        self.description = bound.tool.description
        self.parameters = bound.tool.parameters

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """The recorded answer to this call."""
        return self._recorded.answer(self._tool_id, arguments)


@dataclass(frozen=True, slots=True)
class RecordedContext:
    """A node's contexts as the recording has them, by task.

    The replay sees what the original run saw even when project or global memory changed since: like the
    model's answers, they come from outside the run.
    """

    profile: ContextProfile
    by_task: Mapping[str, str]

    @classmethod
    def of(cls, trace: Trace, node_id: str, profile: ContextProfile) -> RecordedContext:
        """The contexts recorded at ``node_id``."""
        return cls(profile, {_stage_key(r.task_id, r.node_id)[0]: r.context_json for r in trace.records
                             if r.node_id == node_id})

    def assemble(self, task_id: str, depth: int, input_json: str, task_items: TaskItems) -> Assembled:
        """The recorded context of this task at this node (empty if the recording never got there)."""
        entries = self.by_task.get(_stage_key(task_id, "")[0], "[]")
        return Assembled(self.profile.id, entries, 0, 0)


def replay_provider(setup: ProviderSetup) -> ReplayProvider:
    """The built-in ``replay`` provider: ``llm: replay/<model>``, ``config: {recording: <file>.json}``."""
    recording = setup.agent.config.get("recording")
    if not isinstance(recording, str):
        raise ProviderError("the replay provider needs config.recording: the path of a recorded run",
                            provider="replay")
    path = Path(recording)
    if not path.is_absolute() and setup.project_dir is not None:
        path = setup.project_dir / path
    if path.suffix != ".json":  # a provider factory has no plugin manager to find a trace reader through
        raise ProviderError(f"the replay provider reads a result saved as .json, not {path}; replay a trace "
                            "file with 'agent-engine replay DIR FILE' or engine.replay(FILE)", provider="replay")
    try:
        return ReplayProvider(load_recording(path))
    except InvalidInput as exc:
        raise ProviderError(str(exc), provider="replay") from None


def check_replay(recorded: Trace, replayed: Trace) -> None:
    """Raise ``ReplayMismatch`` at the first stage (or task outcome) where ``replayed`` differs."""
    for index, expected in enumerate(recorded.records):
        actual = replayed.records[index] if index < len(replayed.records) else None
        if actual is None or actual.canonical() != expected.canonical():
            raise ReplayMismatch(
                f"replay diverged at stage {expected.seq} of task '{expected.task_id}' (node "
                f"'{expected.node_id}'): {_difference(expected, actual)}",
                task_id=expected.task_id, node_id=expected.node_id, seq=expected.seq,
            )
    if len(replayed.records) > len(recorded.records):
        extra = replayed.records[len(recorded.records)]
        raise ReplayMismatch(f"replay ran a stage the recording does not have: node '{extra.node_id}' of task "
                             f"'{extra.task_id}'", task_id=extra.task_id, node_id=extra.node_id, seq=extra.seq)
    if replayed.digest != recorded.digest:
        raise ReplayMismatch("replay reproduced every stage but not the task outcomes: "
                             f"recorded digest {recorded.digest}, replayed {replayed.digest}")


def _difference(expected: StageRecord, actual: StageRecord | None) -> str:
    if actual is None:
        return "the replay never reached it"
    recorded, replayed = json.loads(expected.canonical()), json.loads(actual.canonical())
    fields = [key for key in recorded if recorded[key] != replayed.get(key)]
    return "differs in " + ", ".join(fields)


@dataclass(frozen=True, slots=True)
class Prefix:
    """What a replay from a node takes from the recording: every stage before the root task's stage at the node.

    ``records`` and ``tasks`` (the fan-out children that finished before it) are the recorded ones moved to the
    new run's id: task ids and lineage re-rooted, every payload, context and call byte for byte as recorded.
    """

    node_id: str
    input_json: str
    """The recorded input of the stage at the node (what the replay runs it with unless given another)."""
    seq: int
    records: tuple[StageRecord, ...]
    tasks: tuple[TaskSummary, ...]
    first_error: StageError | None
    degraded: bool
    """A stage of the root task before the node failed and the task went on (``continue_on_failure``)."""


def prefix_before(trace: Trace, node_id: str, run_id: str) -> Prefix:
    """The part of ``trace`` before the root task's stage at ``node_id``, moved to run ``run_id``.

    Raises ``InvalidInput`` when the root task never ran a stage at ``node_id``, naming the ones it ran. A child
    belongs to the prefix when the root's stage that created it (at the node its lineage starts with: the root
    visits a node once) came before.
    """
    root = trace.for_task(trace.run_id)
    at = next((r for r in root if r.node_id == node_id), None)
    if at is None:
        raise InvalidInput(f"run '{trace.run_id}' has no stage of its root task at node '{node_id}'; its root task "
                           f"ran: {', '.join(r.node_id for r in root) or 'nothing'}")
    before = [r for r in root if r.seq < at.seq]
    fanned_out = {r.node_id for r in before}
    earlier = {t.task_id for t in trace.tasks if t.lineage.path and t.lineage.path[0].node_id in fanned_out}

    def moved(task_id: str) -> str:
        return run_id + task_id[len(trace.run_id):]

    records = tuple(r._replace(task_id=moved(r.task_id)) for r in trace.records
                    if (r.task_id == trace.run_id and r.seq < at.seq) or r.task_id in earlier)
    seqs = {(r.task_id, r.node_id): r.seq for r in trace.records}

    def steps(task: TaskSummary) -> tuple[LineageStep, ...]:
        """The lineage with each creating stage, which a stored lineage leaves out and the run's order needs."""
        creator, path = trace.run_id, []
        for step in task.lineage.path:
            path.append(step._replace(stage=seqs[(creator, step.node_id)]))
            creator = child_task_id(creator, step.node_id, step.index)
        return tuple(path)

    tasks = tuple(
        replace(t, task_id=moved(t.task_id), lineage=t.lineage._replace(
            parent_id=moved(str(t.lineage.parent_id)), path=steps(t)))
        for t in trace.tasks if t.task_id in earlier
    )
    first_error = next((r.error for r in before if r.error is not None), None)
    return Prefix(node_id, at.input_json, at.seq, records, tasks, first_error,
                  any(r.status is Status.FAILURE for r in before))
