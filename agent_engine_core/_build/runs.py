"""memory.yaml's ``runs:`` at build time: which run store keeps the engine's finished runs."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from agent_engine_core._build.components import Components, Registration, distribution_hint
from agent_engine_core.errors import ManifestIssue
from agent_engine_core.executors import LOCAL
from agent_engine_core.journal import RunJournal
from agent_engine_core.runs import RunStore, RunStoreSetup

if TYPE_CHECKING:
    from agent_engine_core.manifests.loader import Project
    from agent_engine_core.manifests.models import RunsSpec

__all__ = ["LOCAL_BACKEND", "KeptRuns", "PendingRuns", "RunsChoice", "bind_runs"]

LOCAL_BACKEND = "sqlite"
"""The store ``runs="local"`` means when it is installed: a file under the project's ``.agent_engine/``."""

RunsChoice = Literal[False, "local"] | None
"""What else an embedder may pass as ``runs=`` besides a ``RunsSpec`` (see ``bind_runs``)."""


@dataclass(frozen=True, slots=True)
class KeptRuns:
    """The opened run store and how the engine feeds it."""

    store: RunStore
    backend: str
    events: bool
    """Whether each run's events are kept with it (``runs: {events: ...}``)."""
    background: bool
    """Written by a writer thread (every store but the in-process one, which a run only appends to)."""
    journal: RunJournal | None = None
    """Where durable runs journal their stages (``runs: {durability: stage}``), else ``None``."""


@dataclass(frozen=True, slots=True)
class PendingRuns:
    """The run store to open once the project is valid."""

    registration: Registration
    setup: RunStoreSetup
    events: bool
    from_manifest: bool
    journal: Registration | None = None

    def open(self, project: Project, issues: list[ManifestIssue]) -> KeptRuns | None:
        """The opened store; None, with a located issue, when its factory refuses."""
        try:
            store = self.registration.factory(self.setup)
        except Exception as exc:  # a store that cannot start is a load error, never a silent fallback
            path = ["runs", "config" if self.setup.config else "backend"]
            where = project.source("memory").issue if self.from_manifest else None
            message = f"the run store '{self.registration.name}' cannot be used: {type(exc).__name__}: {exc}"
            issues.append(where(message, path, code="runs.backend_unusable") if where is not None
                          else ManifestIssue(message, code="runs.backend_unusable"))
            return None
        name = self.registration.name
        journal = None
        if self.journal is not None:
            try:
                journal = self.journal.factory(self.setup)
            except Exception as exc:  # as for the store: a load error, never a silent run without a journal
                store.close()
                message = f"the run journal '{name}' cannot be used: {type(exc).__name__}: {exc}"
                issues.append(project.source("memory").issue(message, ["runs", "durability"],
                                                             code="runs.journal_unusable"))
                return None
        return KeptRuns(store, name, self.events, background=name != "memory", journal=journal)


def _gates_need_a_journal(project: Project, spec: RunsSpec | None, issues: list[ManifestIssue]) -> None:
    """An approval gate waits across processes in the run journal: without ``durability: stage`` it is refused.

    Durable runs are journaled by the engine that runs them: with a task executor other than ``local`` a worker
    runs them and hands the finished run back, so ``durability: stage`` is refused there (a gate would not wait).
    """
    executor = project.scheduler.scheduler.executor
    if spec is not None and spec.durability == "stage":
        if executor != LOCAL:
            issues.append(project.source("memory").issue(
                f"durability: stage journals the runs of the local executor, and scheduler.yaml's executor "
                f"'{executor}' runs them in workers", ["runs", "durability"], code="runs.journal_not_local",
                hint="use executor: local for durable runs and approvals, or durability: off"))
        return
    hint = "add runs: {backend: sqlite, durability: stage} to memory.yaml (docs/DURABLE_RUNS.md)"
    workflow = project.workflow
    for index, node in enumerate(workflow.nodes if workflow is not None else ()):
        if node.approval is not None and node.approval.required:
            issues.append(project.source("workflow").issue(
                f"node '{node.id}' has an approval gate, which needs memory.yaml runs: {{durability: stage}}",
                ["nodes", index, "approval"], code="runs.approval_without_journal", hint=hint))
    for index, tool in enumerate(project.tools.tools):
        if tool.approval == "required":
            issues.append(project.source("tools").issue(
                f"tool '{tool.id}' needs approvals, which need memory.yaml runs: {{durability: stage}}",
                ["tools", index, "approval"], code="runs.approval_without_journal", hint=hint))


def bind_runs(
    project: Project, components: Components, project_id: str, choice: RunsSpec | RunsChoice,
    issues: list[ManifestIssue],
) -> PendingRuns | None:
    """The run store memory.yaml's ``runs:`` names, else the one ``choice`` describes.

    ``choice``: a ``RunsSpec``; ``False`` for none; ``"local"`` for SQLite under ``.agent_engine/`` when its
    store is installed and the project is a config dir (what ``agent-engine run`` keeps runs in), else like
    ``None``: the in-process ``memory`` store, which keeps the last runs without their events (building every
    event of every run costs a third of a small workflow's throughput; ``runs: {backend: memory}`` keeps them).
    """
    from agent_engine_core.manifests.models import RunsSpec  # noqa: PLC0415 - pydantic loads with a project

    spec = project.memory.runs
    from_manifest = spec is not None
    _gates_need_a_journal(project, spec if spec is not None else choice if isinstance(choice, RunsSpec) else None,
                          issues)
    installed = components.of("run_store")
    if spec is None:
        if choice is False:
            return None
        if choice == "local":
            local = LOCAL_BACKEND in installed and project.base_dir is not None
            choice = RunsSpec(backend=LOCAL_BACKEND) if local else None
        spec = choice if isinstance(choice, RunsSpec) else RunsSpec(events=False)
    registration = installed.get(spec.backend)
    if registration is None:
        message = f"runs are kept by run store '{spec.backend}', which is not installed"
        hint = distribution_hint("run_store", spec.backend, installed)
        issues.append(project.source("memory").issue(message, ["runs", "backend"], code="runs.unknown_backend",
                                                     hint=hint) if from_manifest
                      else ManifestIssue(message, code="runs.unknown_backend", hint=hint))
        return None
    setup = RunStoreSetup(project_id, project.base_dir, spec.retention.max_items, MappingProxyType(dict(spec.config)))
    journal = None
    if spec.durability == "stage":
        journal = components.of("run_journal").get(spec.backend)
        if journal is None:
            issues.append(project.source("memory").issue(
                f"durability: stage needs a run journal for run store '{spec.backend}', and none is installed",
                ["runs", "durability"], code="runs.no_journal",
                hint="the memory, sqlite and postgres run stores have one; or set durability: off"))
            return None
    return PendingRuns(registration, setup, spec.events, from_manifest, journal)
