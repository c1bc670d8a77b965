"""``agent-engine queue``: one task per line of a JSON Lines file, through the engine's task queue.

Lines are read as they are needed and queued as far as scheduler.yaml's ``max_queue_size`` allows, so a file
of any length runs in bounded memory. A line that is not JSON is reported with its number and skipped; the
others run. Exit codes: 0 every task succeeded, 3 some ended partial or failure, 4 every other task waits for
approvals (docs/DURABLE_RUNS.md), 2 a line or an argument was unusable (the other lines still ran).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from agent_engine_core._cli_support import EXIT_USAGE, Command, guarded
from agent_engine_core.engine import Engine
from agent_engine_core.errors import InvalidInput
from agent_engine_core.records import Status, TaskResult

__all__ = ["queue"]

BATCH = 1000
"""Tasks queued at once when the queue is unbounded (bounded memory for a file of any length)."""
SLOWEST = 5


def _inputs(handle: TextIO, bad: list[str]) -> Iterator[tuple[int, Any]]:
    """``(line number, input)`` for each non-blank line that is JSON; the others are reported into ``bad``."""
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(f"{handle.name}:{number}: not JSON ({exc.msg}, column {exc.colno}); the line was skipped")


@click.command(cls=Command, short_help="Run one task per line of a JSON Lines file through the task queue.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--inputs", "inputs", type=click.File("r"), required=True,
              help="A JSON Lines file: one task input per line ('-' for stdin).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Tasks in flight at once (default: scheduler.yaml).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result per line, in input order.")
@click.option("--no-store", is_flag=True, help="Do not keep the runs in the project's run store.")
@guarded
def queue(config_dir: Path, inputs: TextIO, concurrency: int | None, as_json: bool, no_store: bool) -> None:
    """Run the workflow in CONFIG_DIR once per line of --inputs, through the engine's task queue.

    A terminal shows a progress bar; otherwise one line per finished task goes to stderr. At the end a summary
    table counts the tasks per status and names the slowest. Exit 0 when every task succeeded, 3 when some
    ended partial or failure, 4 when the others all wait for approvals, 2 when a line was not JSON (the other
    lines still ran).
    """
    bad: list[str] = []
    statuses: Counter[str] = Counter()
    durations: list[tuple[float, str, str]] = []
    with Engine.from_config_dir(config_dir, runs=False if no_store else "local") as engine, \
            _Progress(as_json, _count_lines(inputs)) as progress:
        pending = _inputs(inputs, bad)
        while True:
            taken = _take(pending, engine.queue_capacity or BATCH)
            if not taken:
                break
            for number, value in taken:
                try:
                    engine.enqueue(value)
                except InvalidInput as exc:
                    bad.append(f"{inputs.name}:{number}: {exc}; the line was skipped")
            for result in engine.run_queued(progress=progress.advance, max_concurrency=concurrency):
                statuses[str(result.status)] += 1
                durations.append((sum(r.duration_s for r in result.trace.records), result.task_id,
                                  str(result.status)))
                if as_json:
                    click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    for message in bad:
        click.echo(f"error: {message}", err=True)
    _summary(statuses, durations, len(bad))
    if bad:
        sys.exit(EXIT_USAGE)
    finished = set(statuses) - {str(Status.SUCCESS)}
    sys.exit(0 if not finished else 4 if finished == {str(Status.WAITING)} else 3)


def _count_lines(handle: TextIO) -> int | None:
    """How many tasks a regular file holds (its non-blank lines), for the progress bar; ``None`` for a pipe."""
    if not handle.seekable():
        return None
    count = sum(1 for line in handle if line.strip())
    handle.seek(0)
    return count


def _take(pending: Iterator[tuple[int, Any]], count: int) -> list[tuple[int, Any]]:
    taken = []
    for item in pending:
        taken.append(item)
        if len(taken) == count:
            break
    return taken


def _summary(statuses: Counter[str], durations: list[tuple[float, str, str]], bad: int) -> None:
    """Counts per status and the slowest tasks, on stderr (stdout is the results' with --json)."""
    from rich.console import Console  # noqa: PLC0415 - rich loads when there is something to show
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"{sum(statuses.values())} task(s)")
    table.add_column("status")
    table.add_column("tasks", justify="right")
    for status in ("success", "partial", "failure"):
        table.add_row(status, str(statuses.get(status, 0)))
    if bad:
        table.add_row("lines skipped", str(bad))
    console = Console(stderr=True)
    console.print(table)
    if durations:
        slowest = Table(title="slowest")
        for column in ("task", "status", "stage time"):
            slowest.add_column(column)
        for seconds, task_id, status in sorted(durations, reverse=True)[:SLOWEST]:
            slowest.add_row(task_id, status, f"{seconds * 1000:.1f} ms")
        console.print(slowest)


class _Progress:
    """A rich progress bar on a terminal; one plain line per task on stderr otherwise (none with ``--json``)."""

    def __init__(self, as_json: bool, total: int | None) -> None:
        self._total = total
        self._terminal = sys.stderr.isatty() and not as_json
        self._quiet = as_json
        self._done = 0
        self._bar: Any = None

    def __enter__(self) -> _Progress:
        if self._terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn  # noqa: PLC0415

            self._bar = Progress(TextColumn("queue"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[last]}"), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("tasks", total=self._total, last="")
        return self

    def advance(self, result: TaskResult) -> None:
        """One task finished."""
        self._done += 1
        if self._bar is not None:
            self._bar.update(self._task, completed=self._done, last=f"{result.task_id}: {result.status}")
        elif not self._quiet:
            click.echo(f"{self._done}: {result.task_id} {result.status}", err=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
