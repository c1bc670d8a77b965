"""The inspector: read-only views of the runs in a run store, for people and for ``agent-engine inspect``.

``engine.inspector`` reads the engine's own store (after writing what is queued); ``open_inspector(dir)`` opens a
project's store without building the engine, so a run can be looked at after the manifests changed, or while a
provider's key is not set. Every view is decoded afresh from the stored document: nothing a caller does with
one changes the run, and nothing here writes to the store.

A run is named by its run id or by the id of any task in it (``run-1/split#0``): a task id starts with the id of
the run it belongs to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_engine_core.codec import loads
from agent_engine_core.errors import InvalidInput
from agent_engine_core.records import Trace
from agent_engine_core.runs import RunStore, RunSummary, StoredRun

if TYPE_CHECKING:
    from agent_engine_core._build.runs import RunsChoice
    from agent_engine_core.manifests.models import RunsSpec

__all__ = ["Inspector", "RunView", "StageDifference", "open_inspector", "run_id_of"]


def run_id_of(task_id: str) -> str:
    """The run a task belongs to: the part of its id before the first ``/``."""
    return task_id.partition("/")[0]


class RunView:
    """One stored run, decoded once: its summary, result, trace, stages, artifacts and events."""

    __slots__ = ("_document", "summary", "trace")

    def __init__(self, stored: StoredRun) -> None:
        try:
            self._document = stored.document()
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        self.summary: RunSummary = stored.summary
        self.trace: Trace = Trace.from_dict(self._document["trace"])

    @property
    def result(self) -> dict[str, Any]:
        """The result as ``agent-engine run --json`` prints it (its digest computed from the stored trace)."""
        return {**self._document["result"], "trace_digest": self.trace.digest}

    @property
    def origin(self) -> dict[str, Any] | None:
        """For a replay: ``{"run_id", "from_node", "input_changed"}`` of the run it was replayed from."""
        origin = self._document.get("origin")
        return dict(origin) if origin is not None else None

    def tasks(self) -> list[dict[str, Any]]:
        """Every task of the run in canonical order: id, lineage, status, output, error."""
        return [dict(task) for task in self._document["trace"]["tasks"]]

    def path(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """The stages a task went through, in order: node, status, route, duration (default: the root task)."""
        task = self._task(task_id)
        return [{"seq": r["seq"], "node_id": r["node_id"], "status": r["status"], "route": r["route"],
                 "duration_s": r["duration_s"]} for r in self._records(task)]

    def stage(self, node_id: str, task_id: str | None = None) -> dict[str, Any]:
        """Everything about one stage: input, output, context, agent calls, tool calls, error, timings.

        ``task_id`` picks the task when several visited ``node_id`` (fan-out children); by default the node's
        stage in the root task, or its only one.
        """
        records = [r for r in self._document["trace"]["records"] if r["node_id"] == node_id]
        if task_id is not None:
            records = [r for r in records if r["task_id"] == self._task(task_id)]
        elif len(records) > 1:
            root = [r for r in records if r["task_id"] == self.summary.run_id]
            if not root:
                tasks = ", ".join(r["task_id"] for r in records)
                raise InvalidInput(f"node '{node_id}' ran in {len(records)} tasks of run '{self.summary.run_id}' "
                                   f"({tasks}); name the task")
            records = root
        if not records:
            visited = sorted({r["node_id"] for r in self._document["trace"]["records"]})
            raise InvalidInput(f"run '{self.summary.run_id}' has no stage at node '{node_id}'"
                               + (f" in task '{task_id}'" if task_id else "")
                               + f"; it visited: {', '.join(visited) or 'nothing'}")
        return dict(records[0])

    def artifacts(self) -> list[dict[str, Any]]:
        """The artifacts the run stored (node outputs, tool results, evaluation verdicts), in order."""
        return [dict(artifact) for artifact in self._document["artifacts"]]

    def events(self) -> list[dict[str, Any]] | None:
        """The run's events in the order they were emitted (``None`` when the store did not keep them)."""
        events = self._document["events"]
        return None if events is None else [dict(event) for event in events]

    def _task(self, task_id: str | None) -> str:
        if task_id is None:
            return self.summary.run_id
        known = [t["task_id"] for t in self._document["trace"]["tasks"]]
        if task_id not in known:
            raise InvalidInput(f"run '{self.summary.run_id}' has no task '{task_id}'; its tasks: {', '.join(known)}")
        return task_id

    def _records(self, task_id: str) -> list[Mapping[str, Any]]:
        return [r for r in self._document["trace"]["records"] if r["task_id"] == task_id]


@dataclass(frozen=True, slots=True)
class StageDifference:
    """Where two runs' canonical traces part: the position, both stages (``None`` past a trace's end), the fields.

    Task ids are compared without their run id, so two runs of the same input line up stage by stage.
    """

    index: int
    left: Mapping[str, Any] | None
    right: Mapping[str, Any] | None
    fields: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``agent-engine diff --json``)."""
        return {"index": self.index, "left": self.left, "right": self.right, "fields": list(self.fields)}


class Inspector:
    """Read-only access to a run store's runs (see the module docstring)."""

    __slots__ = ("_before_read", "_store")

    def __init__(self, store: RunStore, before_read: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._before_read = before_read

    def runs(self, *, status: str | None = None, since: float | None = None,
             limit: int | None = None) -> list[RunSummary]:
        """Summaries of the stored runs, newest first."""
        self._before_read()
        try:
            return self._store.runs(status=status, since=since, limit=limit)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None

    def run(self, run_or_task_id: str) -> RunView:
        """The stored run a run id or a task id names; ``InvalidInput`` naming the store's newest runs if none."""
        self._before_read()
        run_id = run_id_of(run_or_task_id)
        stored = self._store.get(run_id)
        if stored is None:
            newest = [s.run_id for s in self._store.runs(limit=5)]
            raise InvalidInput(f"no stored run '{run_id}'" + (f"; the newest: {', '.join(newest)}" if newest
                                                                else "; the run store is empty"))
        return RunView(stored)

    def diff(self, left: str, right: str) -> StageDifference | None:
        """The first stage (or task outcome) where two runs differ, or ``None`` when their traces are the same."""
        one, two = self.run(left), self.run(right)
        return first_difference(one.trace, two.trace, aliases=[v.origin["run_id"] for v in (one, two) if v.origin])


def first_difference(left: Trace, right: Trace, *, aliases: Sequence[str] = ()) -> StageDifference | None:
    """Where ``right`` first differs from ``left``: stages in canonical order, then the tasks' outcomes.

    Each trace's run id is written ``RUN``, and so are ``aliases``: the originals of replays from a node, whose
    recorded stages keep the original's task ids inside their payloads (a merge's inputs).
    """
    a, b = _comparable(left, aliases), _comparable(right, aliases)
    for index in range(max(len(a), len(b))):
        one = a[index] if index < len(a) else None
        two = b[index] if index < len(b) else None
        if one != two:
            keys = dict.fromkeys([*(one or {}), *(two or {})])
            fields = tuple(k for k in keys if (one or {}).get(k) != (two or {}).get(k))
            return StageDifference(index, one, two, fields)
    return None


def _comparable(trace: Trace, aliases: Sequence[str]) -> list[dict[str, Any]]:
    """The trace's canonical lines, stages then tasks, each task id of its run (or of an alias) rooted at ``RUN``.

    Only values that name tasks are rewritten (``task``, ``task_id``, ``parent_id`` and ``child_id`` keys, at
    any depth: merge inputs carry them), so a payload that happens to hold the run id's text is compared as is.
    """
    roots = {trace.run_id, *aliases}

    def rooted(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _renamed(item, roots) if key in _TASK_KEYS else rooted(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rooted(item) for item in value]
        return value

    return [rooted(loads(line)) for line in
            [*(r.canonical() for r in trace.records), *(t.canonical() for t in trace.tasks)]]


_TASK_KEYS = frozenset({"task", "task_id", "parent_id", "child_id"})


def _renamed(value: Any, roots: set[str]) -> Any:
    """``RUN/...`` for a task id whose run is one of ``roots``; anything else unchanged."""
    if isinstance(value, str):
        head, slash, rest = value.partition("/")
        if head in roots:
            return f"RUN{slash}{rest}"
    return value


def open_inspector(config_dir: str | Path, *, runs: RunsSpec | RunsChoice = None,
                   plugins: Sequence[object] = ()) -> tuple[Inspector, Callable[[], None]]:
    """An inspector over the run store of the project in ``config_dir``, and the function that closes the store.

    The store is the one memory.yaml's ``runs:`` names, else ``runs``; only the project's manifests and the
    installed plugins are loaded, not its providers, tools or memory.
    """
    from agent_engine_core._build.components import Components  # noqa: PLC0415 - loaded with a project
    from agent_engine_core._build.memory import project_id_of  # noqa: PLC0415
    from agent_engine_core._build.runs import bind_runs  # noqa: PLC0415
    from agent_engine_core._plugins.loader import load_plugins  # noqa: PLC0415
    from agent_engine_core.errors import ManifestError, ManifestIssue  # noqa: PLC0415
    from agent_engine_core.manifests.loader import load_config_dir  # noqa: PLC0415

    project = load_config_dir(Path(config_dir))
    memory_issues = [issue for issue in project.issues if issue.file == project.source("memory").file]
    if memory_issues:  # the other manifests may be broken: their runs are still there to look at
        raise ManifestError(memory_issues)
    components = Components()
    loaded = load_plugins(components, plugins)
    issues: list[ManifestIssue] = []
    pending = bind_runs(project, components, project_id_of(project), runs, issues)
    kept = pending.open(project, issues) if pending is not None and not issues else None
    loaded.close_sinks()
    if kept is None or not kept.background:
        if kept is not None:
            kept.store.close()
        raise ManifestError(issues or [ManifestIssue(
            "this project keeps no runs another process can read: memory.yaml has no runs: and the sqlite run "
            "store is not installed", file=project.source("memory").file, code="runs.none",
            hint="pip install agent-engine-memory-sqlite, or set runs: {backend: ...} in memory.yaml")])
    return Inspector(kept.store), kept.store.close
