"""``Engine``: load a project once, run it many times.

``engine.run`` is a thin synchronous wrapper over ``await engine.arun``: it drives the coroutine on an event
loop kept per calling thread (creating a loop per run would dominate a short workflow's cost). asyncio (about a
third of the package's import time) and the router that needs it load with the first run, not with the package.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import threading
import time
import weakref
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from agent_engine_core._build.components import Components, ComponentsView
from agent_engine_core._build.dag import FAN_OUT, Dag, Role
from agent_engine_core._build.plan import Built, Plan, build, close_tool_sources
from agent_engine_core._build.runs import RunsChoice
from agent_engine_core._logging import get_logger
from agent_engine_core._plugins.config import apply_plugin_config
from agent_engine_core._plugins.loader import load_plugins
from agent_engine_core._plugins.view import PluginsView
from agent_engine_core._run import durable
from agent_engine_core._run.keep import Origin, RunKeeper, stored_run
from agent_engine_core._run.observe import ObserverRun, Observers
from agent_engine_core._run.queue import Queued, QueueStatus, TaskQueue
from agent_engine_core._run.remote import project_digest, returned
from agent_engine_core._run.stage import TaskState
from agent_engine_core.codec import JSONValueError, dumps, loads
from agent_engine_core.errors import (
    InvalidInput,
    PluginError,
    ProviderError,
    QueueFullError,
    ResumeRefused,
    TaskFailed,
)
from agent_engine_core.events import Event, QueueFull, TaskDequeued, TaskQueued
from agent_engine_core.executors import RemoteTask, TaskExecutor
from agent_engine_core.ids import RunId, new_run_id
from agent_engine_core.journal import RunJournal
from agent_engine_core.memory import Artifact, Artifacts, Memory
from agent_engine_core.records import ROOT, StageRecord, Status, TaskResult, Trace
from agent_engine_core.replay import (
    Prefix,
    RecordedContext,
    RecordedTools,
    Recording,
    ReplayProvider,
    check_replay,
    load_recording,
    prefix_before,
)
from agent_engine_core.runs import StoredRun
from agent_engine_core.secrets import redact

if TYPE_CHECKING:
    import asyncio

    from agent_engine_core.evaluations import CaseResult
    from agent_engine_core.inspector import Inspector
    from agent_engine_core.manifests.loader import Project
    from agent_engine_core.manifests.models import RunsSpec

__all__ = ["Engine"]

Handlers = Mapping[str, Callable[..., Any]]

_log = get_logger(__name__)

_RECORDED: Any = object()
"""``replay_from``'s default input: the one the recording has for the node."""


class _LoopHolder:
    """Owns one thread's event loop and closes it when the thread's local storage is dropped.

    Or at interpreter exit, before modules are torn down: asyncio is imported after this module, so it is torn
    down first, and a loop closed from a ``__del__`` during that teardown would find its modules emptied.
    """

    def __init__(self) -> None:
        import asyncio  # noqa: PLC0415 - see the module docstring

        self.loop = asyncio.new_event_loop()
        weakref.finalize(self, _close_idle, self.loop)


def _close_idle(loop: asyncio.AbstractEventLoop) -> None:
    """Close ``loop`` unless a daemon thread still runs it at exit (a running loop cannot be closed)."""
    if not loop.is_running():
        loop.close()


class _ThreadLoop(threading.local):
    """One event loop per thread that calls ``Engine.run``; it goes away with its thread."""

    holder: _LoopHolder | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        if self.holder is None:
            self.holder = _LoopHolder()
        return self.holder.loop


_loops = _ThreadLoop()


def _in_running_loop() -> bool:
    """Whether this thread is inside a running event loop (there is none while asyncio is not even imported)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _drive(running: Coroutine[Any, Any, TaskResult]) -> TaskResult:
    """Run a coroutine that cannot suspend (no fan-outs, async handlers or agents) without an event loop.

    Entering and leaving an event loop costs more than a whole short workflow; a run whose every handler is
    synchronous and inline never awaits anything that suspends, so it completes on its first step.
    """
    try:
        running.send(None)
    except StopIteration as done:
        return cast(TaskResult, done.value)
    running.close()
    raise RuntimeError("internal error: a run that cannot suspend suspended; please report this workflow")


class _NotRun(Exception):
    """A task executor could not run a queued task (not a task failure: those are results)."""

    def __init__(self, task: Queued, reason: str) -> None:
        super().__init__(reason)
        self.task = task
        self.reason = reason


def _finish_tools(sources: Mapping[str, Any], run_id: str) -> None:
    """Tell each tool that keeps something per run (an MCP session) that run ``run_id`` is over.

    A tool failing to let go is logged: the run's result is already decided and is not changed by it.
    """
    for tool_id, source in sources.items():
        finish = getattr(source, "finish_run", None)
        if callable(finish):
            try:
                finish(run_id)
            except Exception as exc:  # a tool's own bug, after the run: reported, not raised into the result
                _log.warning("tool failed to finish its run", tool=tool_id, run_id=run_id,
                             error=f"{type(exc).__name__}: {exc}")


def _usage(records: Sequence[StageRecord]) -> dict[str, int]:
    """How many agent calls the run made and the tokens they used."""
    calls = [call for record in records for call in record.agent_calls]
    if not calls:
        return {"agent_calls": 0, "input_tokens": 0, "output_tokens": 0}
    return {
        "agent_calls": len(calls),
        "input_tokens": sum(c.usage.get("input_tokens", 0) for c in calls),
        "output_tokens": sum(c.usage.get("output_tokens", 0) for c in calls),
    }


def _answered_by(plan: Plan, replayer: ReplayProvider, recorded: RecordedTools) -> Plan:
    """``plan`` with its agent (once: a recording does not retry) and its external tools answered from a recording."""
    if any(tool.external for tool in plan.tools.values()):
        plan = plan._replace(tools=recorded.answering(plan.tools))
    if plan.agent is None:
        return plan
    return plan._replace(agent=dataclasses.replace(
        plan.agent, provider=replayer, limits=dataclasses.replace(plan.agent.limits, max_attempts=1)))


def _replaying(plan: Plan, replayer: ReplayProvider, recorded: RecordedTools, trace: Trace) -> Plan:
    """``plan`` with its agent and external tools answered and its context given from the recording ``trace``."""
    plan = _answered_by(plan, replayer, recorded)
    if plan.context is not None:
        plan = plan._replace(context=RecordedContext.of(trace, plan.node.id, plan.context.profile))
    return plan


class Engine:
    """A validated project, ready to run. Build it with ``from_config_dir`` or ``from_dict``."""

    def __init__(
        self, project: Project, *, handlers: Handlers | None = None, plugins: Sequence[object] = (),
        runs: RunsSpec | RunsChoice = None, for_replay: bool = False,
    ) -> None:
        """Validate ``project`` and prepare it to run; raises ``ManifestError`` listing every issue.

        Plugins load first (built-ins, then entry points, then ``plugins``), so manifests can name their
        components. Finished runs are kept in the run store memory.yaml's ``runs:`` names; without one, in
        the store ``runs`` describes, or (``runs=None``) the last 100 in memory; ``runs=False`` keeps none.
        ``for_replay`` builds an engine meant to replay recordings: external tools (MCP servers) may describe
        themselves from what they locked instead of reaching their servers (``ToolSetup.for_replay``).
        """
        components = Components()
        self._plugins = load_plugins(components, plugins)
        settings = apply_plugin_config(project, components, self._plugins)
        try:
            self._built: Built = build(project, components, handlers or {}, settings.issues, runs,
                                       for_replay=for_replay)
        except BaseException:
            self._plugins.close_sinks()  # an engine that never was must not leave a sink's server running
            raise
        self._components = components.view()
        self._plugins_view = PluginsView.of(self._plugins)
        self._observers = Observers(
            self._plugins.manager, [p.name for p in self._plugins.loaded], settings.dispatch, settings.disabled
        )
        distributions: dict[str, str | None] = {}
        for plugin in self._plugins.loaded:  # an explicit plugin (version unknown) keeps its distribution's version
            distributions[plugin.distribution] = distributions.get(plugin.distribution) or plugin.version
        from agent_engine_core._deployment import deployment, recorded  # noqa: PLC0415 - kept with its one use

        metadata = {**self._built.metadata, "plugins": MappingProxyType(dict(sorted(distributions.items())))}
        self._metadata_base: Mapping[str, Any] = MappingProxyType(
            {**metadata, "deployment": recorded(deployment(metadata))}  # once per engine, never in the trace
        )
        self._project = project
        self._never_suspends = not any(
            plan.node.role in FAN_OUT or plan.agent is not None or (plan.handler is not None and plan.handler.is_async)
            for plan in self._built.plans.values()
        )
        self._handler_timings: dict[str, float] = {}
        self._regions: dict[str, tuple[str, ...]] = {}
        self._pool: Executor | None = None
        self._pool_lock = threading.Lock()
        self._keeper = RunKeeper(self._built.runs) if self._built.runs is not None else None
        self._scheduler = project.scheduler.scheduler
        self._queue = TaskQueue(self._scheduler.max_queue_size)
        self._remote_origin: tuple[str, str] | None = None
        self._gate_book: dict[tuple[str, str, str], durable.StageGate] = {}
        gated = durable.gated_tool_ids(project.tools.tools)
        self._gated_nodes = frozenset(n for n, plan in self._built.plans.items() if gated.intersection(plan.tools))
        if gated:
            plans = durable.gate_tools(self._built.plans, gated, self._gate_book)
            self._built = dataclasses.replace(self._built, plans=MappingProxyType(plans))
        self._hashes: dict[str, str] | None = None

    @classmethod
    def from_config_dir(
        cls, path: str | Path, *, plugins: Sequence[object] = (), runs: RunsSpec | RunsChoice = None,
        for_replay: bool = False,
    ) -> Engine:
        """Load and validate the project in the folder ``path`` (workflow.yaml, agents.yaml, schemas/...)."""
        from agent_engine_core.manifests.loader import load_config_dir  # noqa: PLC0415 - pydantic and YAML load with a project

        return cls(load_config_dir(Path(path)), plugins=plugins, runs=runs, for_replay=for_replay)

    @classmethod
    def from_dict(
        cls, manifests: Mapping[str, Any], *, base_dir: str | Path | None = None,
        handlers: Handlers | None = None, plugins: Sequence[object] = (), runs: RunsSpec | RunsChoice = None,
        for_replay: bool = False,
    ) -> Engine:
        """Build from in-memory manifests: file stem -> parsed content, plus ``"schemas"``: stem -> schema.

        ``handlers`` maps the names used in ``handler:`` fields to callables, so no module is needed on disk;
        names not in it are imported as ``module:function`` with ``base_dir`` importable.
        """
        from agent_engine_core.manifests.loader import load_manifests  # noqa: PLC0415 - pydantic loads with a project

        base = Path(base_dir) if base_dir is not None else None
        return cls(load_manifests(manifests, base), handlers=handlers, plugins=plugins, runs=runs,
                   for_replay=for_replay)

    @property
    def project(self) -> Project:
        """The validated manifests and schemas, immutable all the way down (tuples and read-only mappings)."""
        return self._project

    @property
    def components(self) -> ComponentsView:
        """The registered components by category (``.of("tool")``, ``.llm_providers``), read-only."""
        return self._components

    @property
    def plugins(self) -> PluginsView:
        """The loaded and the skipped plugins, and ``manager.get_plugins()``, read-only."""
        return self._plugins_view

    @property
    def dag(self) -> Dag:
        """The validated, immutable workflow graph."""
        return self._built.dag

    @property
    def memory(self) -> Memory:
        """The project's memory: ``engine.memory.project.append(...)``, ``.query(...)``; ``task``, ``global_``."""
        return self._built.memory

    @property
    def artifacts(self) -> Artifacts:
        """Stored node outputs and tool results: ``engine.artifacts.query(kind=..., task_id=..., node_id=...)``."""
        return self._built.memory.artifacts

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Engine version, manifest and schema hashes, providers in use, plugin distributions and versions."""
        return self._metadata_base

    def run(
        self, input: Any, *, start: str | None = None, run_id: str | None = None, raise_on_failure: bool = False
    ) -> TaskResult:
        """Run one task to completion and return its result (see ``arun``)."""
        if _in_running_loop():
            raise RuntimeError("Engine.run() was called inside a running event loop; use 'await engine.arun()'")
        return self._complete(self.arun(input, start=start, run_id=run_id, raise_on_failure=raise_on_failure))

    def _complete(self, running: Coroutine[Any, Any, TaskResult]) -> TaskResult:
        """Run a coroutine of a run to its end on this thread: without a loop when the workflow cannot suspend."""
        if self._never_suspends:
            return _drive(running)
        return _loops.get().run_until_complete(running)

    async def arun(
        self, input: Any, *, start: str | None = None, run_id: str | None = None, raise_on_failure: bool = False
    ) -> TaskResult:
        """Run one task from ``start`` (default: the default start node) and return its ``TaskResult``.

        Node failures are results, not exceptions, unless ``raise_on_failure`` is set (then ``TaskFailed``
        is raised for a task that did not succeed: ``PolicyDenied`` when a policy rule failed it). The same
        ``run_id`` reproduces every task id.
        """
        return await self._execute(self._built, input, start, run_id, raise_on_failure)

    def enqueue(self, input: Any, *, start: str | None = None, run_id: str | None = None) -> str:
        """Queue a task (FIFO) for ``run_queued``; returns its task id (its run id).

        The input is checked and copied now; ``QueueFullError`` when scheduler.yaml's ``max_queue_size`` tasks are
        waiting (nothing queued is lost), ``InvalidInput`` for an unknown start node, an input that is not JSON,
        a run id already queued or running, or a scheduler switched off (``enabled: false``).
        """
        if not self._scheduler.enabled:
            raise InvalidInput("the task queue is switched off (scheduler.yaml enabled: false)")
        try:
            start_node = self._built.dag.start_node(start)
        except KeyError:
            raise InvalidInput(f"'{start}' is not a start node; start nodes: {', '.join(self._built.dag.starts)}") \
                from None
        try:
            input_json = dumps(input)
        except JSONValueError as exc:
            raise InvalidInput(f"the input is not JSON: {exc}") from None
        rid = run_id if run_id is not None else new_run_id()
        try:
            position = self._queue.put(rid, input_json, start_node)
        except QueueFullError as exc:
            self._emit_queue_event(QueueFull, "queue_full", rid, exc.limit)
            raise
        self._emit_queue_event(TaskQueued, "task_queued", rid, start_node, position, input_json)
        return rid

    def run_queued(
        self, *, progress: Callable[[TaskResult], None] | None = None, max_concurrency: int | None = None
    ) -> list[TaskResult]:
        """Run every queued task, ``max_concurrency`` at once, and return their results in queue order.

        Tasks queued while it runs are run too. ``progress`` is called with each result as its task finishes;
        ``max_concurrency`` overrides scheduler.yaml's for this call. With a task executor (scheduler.yaml
        ``executor`` other than ``local``) the tasks run where it runs them, with the results a local run gives;
        when it cannot run some, the others in flight finish, those go back to the front of the queue, and
        ``PluginError`` says why (see ``agent_engine_core.executors``).
        """
        if _in_running_loop():
            raise RuntimeError("Engine.run_queued() was called inside a running event loop; use "
                               "'await engine.arun_queued()'")
        return _loops.get().run_until_complete(self.arun_queued(progress=progress, max_concurrency=max_concurrency))

    async def arun_queued(
        self, *, progress: Callable[[TaskResult], None] | None = None, max_concurrency: int | None = None
    ) -> list[TaskResult]:
        """``run_queued`` on the running event loop."""
        import asyncio  # noqa: PLC0415 - loaded with the first run anyway

        lanes = max_concurrency if max_concurrency is not None else self._scheduler.max_concurrency
        if lanes < 1:
            raise InvalidInput(f"max_concurrency must be at least 1, not {lanes}")
        self._queue.begin()
        results: dict[int, TaskResult] = {}
        order = itertools.count()
        elsewhere = self._built.task_executor
        not_run: list[tuple[int, _NotRun]] = []

        async def lane() -> None:
            while not not_run and (task := self._queue.take()) is not None:
                position = next(order)
                self._emit_queue_event(TaskDequeued, "task_dequeued", task.run_id,
                                       time.perf_counter() - task.queued_at)
                try:
                    if elsewhere is None:
                        result = await self._execute(self._built, loads(task.input_json), task.start, task.run_id,
                                                     False, beside_others=lanes > 1)
                    else:
                        result = await self._run_elsewhere(elsewhere, task)
                except _NotRun as lost:
                    not_run.append((position, lost))
                    continue
                except BaseException:
                    self._queue.finish(task.run_id, "failure")
                    raise
                self._queue.finish(task.run_id, str(result.status))
                results[position] = result
                if progress is not None:
                    progress(result)

        await asyncio.gather(*(lane() for _ in range(lanes)))
        if not_run:
            not_run.sort(key=lambda lost: lost[0])
            self._queue.restore([lost.task for _, lost in not_run])
            first = not_run[0][1]
            raise PluginError(
                f"executor '{self._scheduler.executor}' could not run {len(not_run)} task(s); the first, "
                f"'{first.task.run_id}': {first.reason}. They are back at the front of the queue "
                f"({len(results)} other task(s) finished): run_queued() again once the executor works",
                plugin=self._scheduler.executor)
        return [results[position] for position in sorted(results)]

    async def _run_elsewhere(self, executor: TaskExecutor, task: Queued) -> TaskResult:
        """Run ``task`` on the task executor, keep the run it sends back, and return its result."""
        import asyncio  # noqa: PLC0415 - loaded with the first run anyway

        config_dir, digest = self._origin()
        remote = RemoteTask(task.run_id, task.input_json, task.start, config_dir, digest)
        try:
            outcome = await asyncio.wrap_future(executor.submit(remote))
            sent = returned(outcome, self._scheduler.executor)
        except Exception as exc:  # the executor's failure, not the task's: the task goes back to the queue
            raise _NotRun(task, f"{type(exc).__name__}: {exc}") from exc
        if self._keeper is not None:
            self._keeper.keep(sent.run)
        return sent.result

    def _origin(self) -> tuple[str, str]:
        """The config dir (absolute) and the project's digest, which a worker's engine must share (see remote.py)."""
        if self._remote_origin is None:
            base = self._project.base_dir
            self._remote_origin = (str(base.absolute()) if base is not None else "",
                                   project_digest(self._built.metadata, self._built.memory.project.project_id))
        return self._remote_origin

    def _serve(self, task: RemoteTask) -> str:
        """Run a task another engine queued (in a worker: ``agent_engine_core.worker``); the run as JSON text."""
        if task.project != self._origin()[1]:
            raise PluginError(f"the worker loaded another project from {task.config_dir}: its manifests, schemas "
                              "or project id differ from those of the engine that queued the task; give every "
                              "worker the same project")
        kept: list[StoredRun] = []
        self._complete(self._execute(self._built, loads(task.input_json), task.start, task.run_id, False,
                                     into=kept.append))
        return kept[0].document_json

    @property
    def queue_capacity(self) -> int | None:
        """How many more tasks ``enqueue`` takes before ``QueueFullError`` (``None``: unbounded)."""
        return self._queue.capacity()

    def queue_status(self) -> QueueStatus:
        """Counts per state (queued, running, success, failure, partial) and each recent task's state."""
        return self._queue.status()

    def _emit_queue_event(self, event_class: type[Event], name: str, run_id: str, *fields: object) -> None:
        """A queue event (``seq`` 0: it is about the queue, not a stage of the task; see docs/EVENTS.md)."""
        if self._observers.active:
            self._observers.run().emit(event_class(name, run_id, run_id, 0, time.time(), *fields))  # type: ignore[call-arg]

    def run_judged(
        self, input: Any, judge: Callable[[TaskResult], Artifact], *, start: str | None = None,
        run_id: str | None = None,
    ) -> TaskResult:
        """``run``, with the artifact ``judge`` stores about the result (a verdict) kept with the run.

        ``judge`` is called once the run finished, before the run is kept in the run store: what it returns (the
        artifact it put, e.g. ``engine.artifacts.put("evaluation", ...)``) becomes one of the run's artifacts.
        """
        if _in_running_loop():
            raise RuntimeError("Engine.run_judged() was called inside a running event loop")
        return _loops.get().run_until_complete(self._execute(self._built, input, start, run_id, False, judge=judge))

    def replay(self, recording: str | Recording, *, run_id: str | None = None) -> TaskResult:
        """Re-execute a recorded run with agents answered from the recording (see ``areplay``)."""
        if _in_running_loop():
            raise RuntimeError("Engine.replay() was called inside a running event loop; use 'await engine.areplay()'")
        return _loops.get().run_until_complete(self.areplay(recording, run_id=run_id))

    async def areplay(self, recording: str | Recording, *, run_id: str | None = None) -> TaskResult:
        """Re-run a recorded task (same start, input and run id) with every agent call answered from the recording.

        ``recording`` is a run or task id in the run store, a ``Trace``, a saved result, or a path (see
        ``agent_engine_core.replay``). Returns the
        result, whose trace digest equals the recording's; raises ``ReplayMismatch`` naming the first stage that
        differs (the manifests, handlers, tools or the recording changed).
        """
        trace = self._recorded(recording, run_id)
        root = trace.for_task(trace.run_id)
        if not root:
            raise InvalidInput(f"the recording of run '{trace.run_id}' has no stage of its root task")
        replayer, recorded = ReplayProvider(trace), RecordedTools(trace)
        plans = {node_id: _replaying(plan, replayer, recorded, trace) for node_id, plan in self._built.plans.items()}
        built = dataclasses.replace(self._built, plans=MappingProxyType(plans))
        result = await self._execute(built, root[0].input, root[0].node_id, trace.run_id, False, keep=False,
                                     gates=durable.Gates.of_trace(trace))
        check_replay(trace, result.trace)
        return result

    def replay_from(
        self, recording: str | Recording, node: str, *, input: Any = _RECORDED, offline: bool = False,
        run_id: str | None = None,
    ) -> TaskResult:
        """Re-execute a recorded run from one node on (see ``areplay_from``)."""
        if _in_running_loop():
            raise RuntimeError("Engine.replay_from() was called inside a running event loop; use "
                               "'await engine.areplay_from()'")
        return _loops.get().run_until_complete(
            self.areplay_from(recording, node, input=input, offline=offline, run_id=run_id))

    async def areplay_from(
        self, recording: str | Recording, node: str, *, input: Any = _RECORDED, offline: bool = False,
        run_id: str | None = None,
    ) -> TaskResult:
        """A new run that takes every stage before the root task's stage at ``node`` from the recording.

        ``recording`` is a run id in the run store, or what ``replay`` takes. The stage at ``node`` runs with
        ``input`` (default: its recorded input) and everything after it runs again: agents through their
        configured providers or, ``offline``, answered from the recording (a stage the recording has no answer
        for then fails). The recorded prefix keeps its records byte for byte, moved to the new run's id; the run is
        kept in the run store with its origin (``{"run_id", "from_node", "input_changed"}``).
        """
        trace = self._recorded(recording)
        plan = self._built.plans.get(node)
        if plan is None:
            raise InvalidInput(f"the workflow has no node '{node}'")
        if plan.node.role is Role.MERGE:
            raise InvalidInput(f"'{node}' is a merge: its input is its group's outcome; replay from the fan-out "
                               "node that feeds it, or from the node after it")
        rid = RunId(run_id) if run_id is not None else new_run_id()
        if rid == trace.run_id:
            raise InvalidInput(f"a replay from a node is a new run: choose a run id other than '{rid}'")
        prefix = prefix_before(trace, node, rid)
        built = self._built
        if offline:
            replayer, recorded = ReplayProvider(trace), RecordedTools(trace)
            built = dataclasses.replace(built, plans=MappingProxyType(
                {node_id: _answered_by(plan, replayer, recorded) for node_id, plan in built.plans.items()}))
        edited = input is not _RECORDED
        try:
            changed = edited and dumps(input) != prefix.input_json
        except JSONValueError as exc:
            raise InvalidInput(f"the input is not JSON: {exc}") from None
        start_input = input if edited else loads(prefix.input_json)
        origin = {"run_id": trace.run_id, "from_node": node, "input_changed": changed}
        return await self._execute(built, start_input, None, rid, False, origin=origin, prefix=prefix)

    def _recorded(self, recording: str | Recording, run_id: str | None = None) -> Trace:
        """The trace of a run in the run store (by run or task id), or of a recording ``load_recording`` reads."""
        if isinstance(recording, str) and self._keeper is not None and not Path(recording).exists():
            from agent_engine_core.inspector import RunView, run_id_of  # noqa: PLC0415 - only stored runs need it

            self._keeper.flush()
            stored = self._keeper.runs.store.get(run_id_of(recording))
            if stored is not None:
                return RunView(stored).trace
        return load_recording(recording, run_id=run_id, read_events=self._plugins.manager.hook.read_trace_events)

    def resume(self, run_id: str, *, allow_changed: bool = False) -> TaskResult:
        """Continue a durable run from its journal (see ``aresume``)."""
        if _in_running_loop():
            raise RuntimeError("Engine.resume() was called inside a running event loop; use 'await engine.aresume()'")
        return _loops.get().run_until_complete(self.aresume(run_id, allow_changed=allow_changed))

    async def aresume(self, run_id: str, *, allow_changed: bool = False) -> TaskResult:
        """Continue run ``run_id`` from its journal (memory.yaml ``runs: {durability: stage}``).

        Journaled stages are taken from the journal, not executed again; the others run. The result is the one
        the run would have had uninterrupted (the same trace digest), or ``waiting`` again. Raises
        ``ResumeRefused`` naming the files (manifests, schemas, handler modules) changed since the run was
        journaled, unless ``allow_changed`` (then the result's ``metadata["resumed"]`` says so), and
        ``InvalidInput`` for a run that has no journal.
        """
        return await self._resume(self._journaled(run_id), allow_changed)

    async def _resume(self, journaled: durable.Journaled, allow_changed: bool) -> TaskResult:
        changed = durable.changed_files(journaled.hashes, self._run_hashes())
        if changed and not allow_changed:
            raise ResumeRefused(journaled.run_id, changed)
        resumed = {"changed": changed, "allow_changed": bool(changed)}
        return await self._execute(self._built, loads(journaled.input_json), journaled.start, journaled.run_id,
                                   False, resume=(journaled, resumed))

    def approve(
        self, run_id: str, node: str, *, approve: bool, reason: str | None = None, input: Any = _RECORDED,
        fingerprint: str | None = None, task_id: str | None = None, by: str | None = None,
        allow_changed: bool = False,
    ) -> TaskResult:
        """Decide an approval a waiting run waits for, then resume it (see ``aapprove``)."""
        if _in_running_loop():
            raise RuntimeError("Engine.approve() was called inside a running event loop; use 'await engine.aapprove()'")
        return _loops.get().run_until_complete(self.aapprove(
            run_id, node, approve=approve, reason=reason, input=input, fingerprint=fingerprint, task_id=task_id,
            by=by, allow_changed=allow_changed))

    async def aapprove(
        self, run_id: str, node: str, *, approve: bool, reason: str | None = None, input: Any = _RECORDED,
        fingerprint: str | None = None, task_id: str | None = None, by: str | None = None,
        allow_changed: bool = False,
    ) -> TaskResult:
        """Approve (``approve=True``) or reject (with a ``reason``) what run ``run_id`` waits for at ``node``.

        ``input`` (the node input or tool arguments approved) or ``fingerprint`` (their SHA-256) pins the decision
        to what was asked: a decision for anything else raises ``ApprovalRefused``, as does one for a node that
        waits for nothing; ``task_id`` picks one of several tasks waiting at ``node``. The decision (with ``by``
        and the time) is journaled and the run resumed: its result is returned, ``waiting`` again if more gates
        wait. A rejection fails the stage with kind ``approval``; so does any decision after the gate's timeout.
        """
        journaled = self._journaled(run_id)
        pinned = None
        if input is not _RECORDED:
            try:
                pinned = durable.fingerprint(dumps(input))
            except JSONValueError as exc:
                raise InvalidInput(f"the approved input is not JSON: {exc}") from None
        item = durable.choose_pending(journaled, node, task_id, pinned, fingerprint)
        decision = durable.decision_for(item, approve=approve, reason=reason, by=by)
        changed = durable.changed_files(journaled.hashes, self._run_hashes())
        if changed and not allow_changed:  # refused before the decision is journaled: nothing was decided
            raise ResumeRefused(run_id, changed)
        self._kept_journal().append(run_id, (("approval", dumps(decision)),))
        journaled = dataclasses.replace(journaled, decisions=(*journaled.decisions, decision))
        return await self._resume(journaled, allow_changed)

    def waiting(self) -> list[dict[str, Any]]:
        """The runs waiting for approvals, oldest first: ``{"run_id", "status", "since", "approvals": [...]}``."""
        return self.journaled_runs(status="waiting")

    def journaled_runs(self, *, status: str | None = None) -> list[dict[str, Any]]:
        """Durable runs not finished: ``running`` (in flight, or interrupted: resume them) and ``waiting``."""
        return [{"run_id": s.run_id, "status": s.status, "since": s.updated_at, "approvals": loads(s.detail_json)}
                for s in self._kept_journal().runs(status=status)]

    def _kept_journal(self) -> RunJournal:
        runs = self._built.runs
        if runs is None or runs.journal is None:
            raise InvalidInput("this project keeps no run journal: durable runs need memory.yaml "
                               "runs: {durability: stage} (docs/DURABLE_RUNS.md)")
        return runs.journal

    def _journaled(self, run_id: str) -> durable.Journaled:
        kept = self._kept_journal().read(run_id)
        if kept is None:
            assert self._keeper is not None  # a journal comes with a run store
            self._keeper.flush()
            done = self._keeper.runs.store.get(run_id) is not None
            raise InvalidInput(f"run '{run_id}' has finished: nothing to resume" if done
                               else f"run '{run_id}' has no journal (it never ran durably here, or its id is wrong)")
        return durable.Journaled.of(kept)

    def _run_hashes(self) -> dict[str, str]:
        """The hashes of what runs this engine's runs, as a journal's header keeps them (computed once)."""
        if self._hashes is None:
            self._hashes = durable.run_hashes(self._project.sources, self._built.plans, self._project.base_dir)
        return self._hashes

    @property
    def inspector(self) -> Inspector:
        """Read-only views of the runs in the engine's run store (``runs()``, ``run(id).stage(node)``...)."""
        from agent_engine_core.inspector import Inspector  # noqa: PLC0415 - only inspection needs it

        if self._keeper is None:
            raise InvalidInput("this engine keeps no runs (it was built with runs=False)")
        return Inspector(self._keeper.runs.store, before_read=self._keeper.flush)

    async def _execute(
        self, built: Built, input: Any, start: str | None, run_id: str | None, raise_on_failure: bool, *,
        origin: Origin | None = None, judge: Callable[[TaskResult], Artifact] | None = None,
        prefix: Prefix | None = None, keep: bool = True, beside_others: bool = False,
        into: Callable[[StoredRun], None] | None = None,
        resume: tuple[durable.Journaled, Mapping[str, Any]] | None = None, gates: durable.Gates | None = None,
    ) -> TaskResult:
        """Run, then keep the run in the run store (with ``judge``'s verdict on it, when given) and return it.

        With a ``prefix`` the root task starts at its node, after the recorded stages it holds. A replay that
        checks a recording (``keep=False``) leaves the stored original as it was. ``into`` takes the run instead
        of the run store: a worker's, for the engine that queued the task. A durable run (``runs: {durability:
        stage}``) journals its stages; ``resume`` continues one from its journal; ``gates`` decides the approval
        gates of a run that keeps no journal (a replay: from its recording).
        """
        # the router, and asyncio with it, load with the first run (see the module docstring)
        from agent_engine_core._run.router import (  # noqa: PLC0415
            Finished,
            RunState,
            Waiting,
            first_failure,
            ordered,
            walk,
        )

        try:
            start_node = prefix.node_id if prefix is not None else built.dag.start_node(start)
        except KeyError:
            raise InvalidInput(
                f"'{start}' is not a start node; start nodes: {', '.join(built.dag.starts)}"
            ) from None
        try:
            input_json = dumps(input)
        except JSONValueError as exc:
            raise InvalidInput(f"the input is not JSON: {exc}") from None
        rid = RunId(run_id) if run_id is not None else new_run_id()
        keeper = self._keeper if keep else None
        kept = into if into is not None else keeper.keep if keeper is not None else None
        keep_events = keeper is not None and keeper.runs.events
        observers = self._observers.run(keep=keep_events) if self._observers.active or keep_events else None
        timings = self._handler_timings if built.inline_fast_handlers else None
        run = RunState(rid, built.plans, built.fanout_concurrency, self._executor(), timings, observers=observers,
                       memory=built.memory, regions=self._regions, credentials=built.credentials,
                       artifacts=[] if kept is not None else None, beside_others=beside_others)
        journal = self._journal_run(run, built, keep and into is None, start_node, input_json, resume, gates)
        started_at, clock = time.time(), time.perf_counter()
        root = TaskState(id=rid, lineage=ROOT, run_id=rid)
        if prefix is not None:
            run.records.extend(prefix.records)
            run.summaries.extend(prefix.tasks)
            run.task_items[rid] = [((r.node_id,), r.output_json, r.started_at) for r in prefix.records
                                   if r.task_id == rid and r.status is Status.SUCCESS]
            root.seq, root.first_error, root.degraded = prefix.seq, prefix.first_error, prefix.degraded
        try:
            finished = await walk(run, root, start_node, input_json)
        finally:
            _finish_tools(built.tool_sources, rid)
        if isinstance(finished, Waiting):
            assert journal is not None and run.gates is not None  # only a durable run has gates to wait at
            return self._waiting(run, journal, run.gates, ordered(run, root), resume[1] if resume else None)
        assert isinstance(finished, Finished)  # only children wait at merges; the root always finishes
        summaries, records = ordered(run, root)
        error = finished.error if finished.status is Status.FAILURE else None
        if finished.status is Status.PARTIAL:
            error = first_failure(records)
        result = TaskResult(
            task_id=root.id,
            status=finished.status,
            output_json=finished.output_json,
            error=None if error is None else error.to_dict(),
            trace=Trace(rid, summaries, records),
            metadata=self._metadata(observers, resume[1] if resume is not None else None),
            usage=_usage(records),
        )
        if kept is not None:
            artifacts = run.artifacts or []
            if judge is not None:
                artifacts.append(judge(result))
            run_kept = stored_run(result, started_at, time.perf_counter() - clock, artifacts,
                                  None if observers is None else observers.kept, origin)
            if journal is not None and keeper is not None:
                keeper.keep(run_kept, journaled=True)  # its journal goes once the run store has it
            else:
                kept(run_kept)
        if raise_on_failure and result.status is not Status.SUCCESS:
            raise TaskFailed.of(result)
        return result

    def evaluate(self, *, cases: Collection[str] = (), repeat: int = 1) -> tuple[CaseResult, ...]:
        """Run the cases of the project's evaluations.yaml (``cases``: ids or ``suite/id``; all when empty).

        Each case runs ``repeat`` times and every verdict is stored as an ``evaluation`` artifact; see
        ``agent_engine_core.evaluations``. Raises ``InvalidInput`` when the project has no evaluations.yaml or
        names a case it does not have.
        """
        from agent_engine_core.evaluations import evaluate  # noqa: PLC0415 - only evaluations need it

        if self.project.evaluations is None:
            raise InvalidInput("the project has no evaluations.yaml")
        try:
            return evaluate(self, self.project.evaluations, cases=cases, repeat=repeat)
        except LookupError as exc:
            raise InvalidInput(str(exc.args[0])) from None

    def _metadata(
        self, observers: ObserverRun | None, resumed: Mapping[str, Any] | None = None
    ) -> Mapping[str, Any]:
        """The engine's metadata, plus what went wrong with observers in this run and how it was resumed."""
        report = observers.report() if observers is not None else None
        if not report and resumed is None:
            return self._metadata_base
        extra: dict[str, Any] = {"observers": report} if report else {}
        if resumed is not None:
            extra["resumed"] = MappingProxyType(dict(resumed))
        return MappingProxyType({**self._metadata_base, **extra})

    def _journal_run(
        self, run: Any, built: Built, kept: bool, start_node: str, input_json: str,
        resume: tuple[durable.Journaled, Mapping[str, Any]] | None, gates: durable.Gates | None,
    ) -> RunJournal | None:
        """Make a kept ``run`` durable when the project journals: begin its journal, or continue the one it resumes.

        Returns the journal (``None``: the run is not durable; ``gates``, a replay's, then decide its gates).
        """
        journal = built.runs.journal if built.runs is not None and kept else None
        run.gate_book, run.gated_nodes = self._gate_book, self._gated_nodes
        if journal is None:
            run.gates = gates
            return None
        rid = run.run_id
        run.journal = durable.Journaling(journal, rid)
        if resume is None:
            journal.begin(rid, durable.header(start_node, input_json, self._run_hashes()))
            run.gates = durable.Gates(rid)
            return journal
        journaled = resume[0]
        run.journaled, run.journaled_contexts, run.paused_calls = journaled.stages, journaled.contexts, journaled.paused
        run.gates = durable.Gates.of(rid, journaled.decisions, journaled.pending)
        journal.set_status(rid, "running")
        return journal

    def _waiting(
        self, run: Any, journal: RunJournal, gates: durable.Gates,
        ordered: tuple[tuple[Any, ...], tuple[StageRecord, ...]], resumed: Mapping[str, Any] | None,
    ) -> TaskResult:
        """The result of a run that waits for approvals: journaled as ``waiting`` with them; not in the run store."""
        pending = gates.pending
        journal.set_status(run.run_id, "waiting", dumps(pending))
        summaries, records = ordered
        metadata = {**self._metadata(None, resumed), "approvals": tuple(pending)}
        return TaskResult(
            task_id=run.run_id, status=Status.WAITING, output_json="null", error=None,
            trace=Trace(run.run_id, summaries, records), metadata=MappingProxyType(metadata), usage=_usage(records),
        )

    def _executor(self) -> Executor:
        """The pool that runs sync handlers of concurrent children (made on first fan-out need)."""
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    pool = self._built.executor(self._built.fanout_concurrency)
                    weakref.finalize(self, pool.shutdown, wait=False)
                    self._pool = pool
        return self._pool

    def flush_runs(self) -> None:
        """Wait until every finished run is written to the run store (``PluginError`` if the store lost some)."""
        if self._keeper is not None:
            self._keeper.flush()

    def close(self) -> None:
        """Write the runs still queued; release threads, stores and providers' clients. Not usable afterwards."""
        try:
            if self._keeper is not None:
                self._keeper.close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._built.task_executor is not None:
            self._built.task_executor.shutdown(wait=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._observers.close()
        self._plugins.close_sinks()
        self._built.memory.close()
        for problem in close_tool_sources(self._built.tool_sources):
            _log.warning("tool close failed", problem=problem)
        agents = {id(p.agent.provider): p.agent for p in self._built.plans.values() if p.agent}
        for agent in agents.values():
            close = getattr(agent.provider, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as exc:  # its message may echo the key: the caller gets it redacted
                    raise ProviderError(f"provider '{agent.provider_name}' failed to close: "
                                        f"{redact(f'{type(exc).__name__}: {exc}', agent.secrets)}") from None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
