"""``agent-engine resume``, ``approve`` and ``runs``: durable runs from the command line (docs/DURABLE_RUNS.md).

``resume DIR RUN_ID`` continues a run from its journal; ``approve DIR RUN_ID --node NODE (--approve | --reject
--reason TEXT)`` decides what a waiting run waits for and resumes it; ``runs DIR [--waiting]`` lists the
journaled runs (in flight or interrupted, and waiting). Exit codes are ``run``'s: 0, 1, 3, and 4 for a run that
waits for approvals; 2 for a run that has no journal, a refused resume or a refused decision.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from agent_engine_core._cli_support import EXIT_CODES, EXIT_USAGE, Command, fail, guarded, show_pending, show_result
from agent_engine_core.engine import Engine

__all__ = ["approve", "resume", "runs"]

_APPROVAL_INPUT = object()


@click.command(cls=Command, short_help="Continue a durable run from its journal.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the result.")
@click.option("--allow-changed", is_flag=True,
              help="Resume even though manifests, schemas or handler modules changed (recorded in the metadata).")
@guarded
def resume(config_dir: Path, run_id: str, as_json: bool, allow_changed: bool) -> None:
    """Continue run RUN_ID of the project in CONFIG_DIR from its journal (memory.yaml runs: {durability: stage}).

    Stages the journal holds are not executed again; the rest run. The result is the one the run would have had
    uninterrupted, with the same trace digest. Refused (exit 2), naming the files, when a manifest, schema or
    handler module changed since the run was journaled, unless --allow-changed.
    """
    with Engine.from_config_dir(config_dir, runs="local") as engine:
        result = engine.resume(run_id, allow_changed=allow_changed)
    show_result(result, as_json)
    sys.exit(EXIT_CODES[result.status])


@click.command(cls=Command, short_help="Approve or reject what a waiting run waits for, and resume it.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_id")
@click.option("--node", required=True, help="The node whose approval is decided.")
@click.option("--approve", "decision", flag_value="approve", help="Approve it.")
@click.option("--reject", "decision", flag_value="reject", help="Reject it (needs --reason).")
@click.option("--reason", help="Why (required with --reject; kept with the decision).")
@click.option("--input", "input_text",
              help="The input (or tool arguments) approved, as JSON: refused unless it is exactly what waits.")
@click.option("--fingerprint", help="The SHA-256 fingerprint of what is approved, as 'runs --waiting' shows it.")
@click.option("--task", "task_id", help="The task, when several wait at NODE.")
@click.option("--by", help="Who decides (kept with the decision, outside the trace digest).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the result.")
@click.option("--allow-changed", is_flag=True, help="As for 'resume'.")
@guarded
def approve(config_dir: Path, run_id: str, node: str, decision: str | None, reason: str | None,
            input_text: str | None, fingerprint: str | None, task_id: str | None, by: str | None, as_json: bool,
            allow_changed: bool) -> None:
    """Decide the approval run RUN_ID waits for at NODE, then resume the run and print its result.

    A rejection fails the stage with kind 'approval'. An approval names what it approves: --input or
    --fingerprint, when given, must be exactly what waits; a decision for anything else is refused (exit 2).
    """
    if decision is None:
        fail("give --approve or --reject", EXIT_USAGE)
    approved = decision == "approve"
    if not approved and not (reason and reason.strip()):
        fail("--reject needs --reason TEXT", EXIT_USAGE)
    given = _APPROVAL_INPUT
    if input_text is not None:
        try:
            given = json.loads(input_text)
        except json.JSONDecodeError as exc:
            fail(f"--input is not valid JSON: {exc}", EXIT_USAGE)
    with Engine.from_config_dir(config_dir, runs="local") as engine:
        kwargs = {} if given is _APPROVAL_INPUT else {"input": given}
        result = engine.approve(run_id, node, approve=approved, reason=reason, fingerprint=fingerprint,
                                task_id=task_id, by=by, allow_changed=allow_changed, **kwargs)
    show_result(result, as_json)
    sys.exit(EXIT_CODES[result.status])


@click.command(cls=Command, short_help="List durable runs in flight, interrupted or waiting for approvals.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--waiting", is_flag=True, help="Only the runs waiting for approvals, with what they wait for.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@guarded
def runs(config_dir: Path, waiting: bool, as_json: bool) -> None:
    """List the journaled runs of CONFIG_DIR: those running or interrupted (resume them) and those waiting.

    Finished runs are in the run store ('agent-engine inspect DIR runs'). With --waiting, each pending approval
    is listed with its run id, task id, node, the exact input or tool arguments and their fingerprint.
    """
    with Engine.from_config_dir(config_dir, runs="local") as engine:
        listed = engine.waiting() if waiting else engine.journaled_runs()
    if as_json:
        click.echo(json.dumps(listed, indent=2, ensure_ascii=False))
        return
    if not listed:
        click.echo("no run waits for an approval" if waiting else "no durable run is in flight, interrupted or waiting")
        return
    for entry in listed:
        since = datetime.fromtimestamp(entry["since"], UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(f"{entry['run_id']}  {entry['status']}  since {since}")
        show_pending(entry["approvals"])
