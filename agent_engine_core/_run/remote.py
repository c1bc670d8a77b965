"""Queued tasks a task executor runs elsewhere: what a worker sends back, and the result the engine makes of it.

A worker sends the run as a run store keeps it (``stored_run(...).document_json``): the result, the trace with
every record, the artifacts, and the summary's timings measured where the task ran. The engine that queued the
task rebuilds the ``TaskResult`` from that document -- its trace from the same records, so with the digest a
local run has --, adds ``metadata["executor"]`` (which executor, attempt and worker), and keeps the document in
its own run store: a worker keeps no runs of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_engine_core._build.context import freeze
from agent_engine_core.codec import compose, dumps, loads, plain
from agent_engine_core.executors import TaskOutcome
from agent_engine_core.records import Status, TaskResult, Trace
from agent_engine_core.runs import RUN_FORMAT, RunSummary, StoredRun

__all__ = ["Returned", "project_digest", "returned"]


def project_digest(metadata: Mapping[str, Any], project_id: str) -> str:
    """What a worker's engine must share with the engine that queued a task: manifests, schemas, project id."""
    described = {"manifests": plain(metadata["manifests"]), "schemas": plain(metadata["schemas"]),
                 "project_id": project_id}
    return hashlib.sha256(compose(described).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Returned:
    """A task run elsewhere: its result, and the run to keep in the engine's run store."""

    result: TaskResult
    run: StoredRun


def returned(outcome: TaskOutcome, executor: str) -> Returned:
    """The result and the run ``outcome`` holds; ``ValueError`` when its text is not a run this core reads."""
    document = loads(outcome.result_json)
    if not isinstance(document, dict) or document.get("format") != RUN_FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"the worker sent a run of format {found!r}; this engine reads format {RUN_FORMAT} "
                         "(give the workers the engine version of the client)")
    sent = document["result"]
    sent["metadata"]["executor"] = {"name": executor, "attempt": outcome.attempt, "worker": outcome.worker}
    result = TaskResult(
        task_id=sent["task_id"], status=Status(sent["status"]), output_json=dumps(sent["output"]),
        error=sent["error"], trace=Trace.from_dict(document["trace"]), metadata=freeze(sent["metadata"]),
        usage=sent["usage"],
    )
    summary = RunSummary.from_dict(document["summary"])
    return Returned(result, StoredRun.deferred(summary.run_id, lambda: summary, lambda: compose(document)))
