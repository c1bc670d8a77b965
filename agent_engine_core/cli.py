"""The ``agent-engine`` command line: run, replay, eval, validate, graph, plugins, schema.

Exit codes: 0 success, 3 partial, 1 failure, 2 invalid manifests or usage, 141 stdout closed early (``| head``).
No traceback reaches the user unless ``--debug`` is given. The global options are accepted before the subcommand
and among its own options alike.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from agent_engine_core._build.components import Components
from agent_engine_core._build.dag import Dag, DagNode, Role
from agent_engine_core._cli_support import (
    EXIT_CODES,
    EXIT_USAGE,
    Command,
    configure_logging_from,
    fail,
    global_options,
    global_params,
    guarded,
    plugin_commands,
    run_progress,
    show_result,
)
from agent_engine_core._deploy_cli import deploy
from agent_engine_core._durable_cli import approve, resume, runs
from agent_engine_core._inspect_cli import attach
from agent_engine_core._plugins.loader import load_plugins
from agent_engine_core._queue_cli import queue
from agent_engine_core._repl_cli import repl
from agent_engine_core._version import __version__
from agent_engine_core.engine import Engine
from agent_engine_core.errors import ManifestError
from agent_engine_core.manifests.models import MANIFEST_MODELS

if TYPE_CHECKING:
    from agent_engine_core.evaluations import CaseResult

__all__ = ["main", "mermaid"]

class _Group(click.Group):
    """The ``agent-engine`` group: its own commands, then those installed plugins register."""

    command_class = Command

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in commands and plugins' commands, for ``--help`` and completion."""
        return sorted({*super().list_commands(ctx), *plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in command, else a plugin's (plugins are discovered only for a name that is not built in)."""
        return super().get_command(ctx, cmd_name) or plugin_commands().get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        """Set logging up from the options given before the command (a plugin's command sees them too)."""
        configure_logging_from(global_options(ctx))
        return super().invoke(ctx)


@click.group(cls=_Group, params=global_params(), context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agent-engine")
def main() -> None:
    """Agent Engine: run LLM-agent workflows declared as a YAML DAG.

    The options below may also be given after the command, e.g. 'agent-engine run DIR --input JSON -v'.
    """


@main.command(short_help="Run the workflow once and print the result.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--input", "input_text", help="The task input as JSON.")
@click.option("--input-file", type=click.File("r"), help="Read the task input (JSON) from a file, '-' for stdin.")
@click.option("--start", help="Start node (default: the workflow's default start node).")
@click.option("--run-id", help="Run id; the same run id reproduces every task id and the trace digest.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the result.")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path),
              help="Also save the result with its full trace to this .json file (replay it with 'replay').")
@click.option("--no-store", is_flag=True, help="Do not keep the run in the project's run store.")
@guarded
def run(config_dir: Path, input_text: str | None, input_file: Any, start: str | None, run_id: str | None,
        as_json: bool, record: Path | None, no_store: bool) -> None:
    """Run the workflow in CONFIG_DIR once and print the result.

    The run is kept in the run store memory.yaml's runs: names, else in SQLite under CONFIG_DIR/.agent_engine/
    when agent-engine-memory-sqlite is installed ('agent-engine inspect' reads it). On a terminal, a run that
    takes more than half a second shows a spinner naming the node that is running.
    """
    if input_text is not None and input_file is not None:
        fail("give --input or --input-file, not both", EXIT_USAGE)
    text = input_file.read() if input_file is not None else input_text
    if text is None:
        fail("the task input is missing: pass --input JSON or --input-file FILE", EXIT_USAGE)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--input is not valid JSON: {exc}", EXIT_USAGE)
    if record is not None and record.suffix != ".json":
        fail(f"--record needs a .json file name, not {record.name}", EXIT_USAGE)
    observers, progress = run_progress(as_json)
    with Engine.from_config_dir(config_dir, plugins=observers, runs=False if no_store else "local") as engine, \
            progress:
        result = engine.run(payload, start=start, run_id=run_id)
    if record is not None:
        _write_atomically(record, json.dumps(result.to_dict(with_trace=True), indent=2, ensure_ascii=False))
    show_result(result, as_json)
    sys.exit(EXIT_CODES[result.status])


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it: a reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                         delete=False) as handle:
            handle.write(text + "\n")
        os.replace(handle.name, path)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}", 1)


@main.command(short_help="Re-run a recorded task, agents answered from the recording.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("recording")
@click.option("--run-id", help="The run to replay when RECORDING is a telemetry-jsonl folder of several runs; "
                               "with --from, the new run's id.")
@click.option("--from", "from_node", metavar="NODE",
              help="Re-execute from this node of the root task on; the stages before it come from the recording.")
@click.option("--input", "input_text", help="With --from: the node's input as JSON (default: the recorded one).")
@click.option("--offline", is_flag=True, help="With --from: agents after the node answered from the recording too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the replayed result.")
@guarded
def replay(config_dir: Path, recording: str, run_id: str | None, from_node: str | None, input_text: str | None,
           offline: bool, as_json: bool) -> None:
    """Re-run a recorded task with the agents answered from RECORDING; exit 0 when it reproduces the digest.

    RECORDING is a run (or task) id in the project's run store, a result saved with 'run --record FILE.json',
    or a telemetry-jsonl trace file or folder. A divergence exits 1 naming the first differing stage.

    With --from NODE it is a new run instead, linked to the original and kept in the run store: the stages
    before NODE are taken from the recording byte for byte, NODE runs with --input (or its recorded input) and
    the stages after it run again, agents through their providers (or, --offline, from the recording). Its
    exit code is the new run's status.
    """
    if from_node is None and (input_text is not None or offline):
        fail("--input and --offline go with --from NODE", EXIT_USAGE)
    observers, progress = run_progress(as_json)
    answered_from_recording = from_node is None or offline  # external tools too: their servers need not be up
    with Engine.from_config_dir(config_dir, plugins=observers, runs="local",
                                for_replay=answered_from_recording) as engine, progress:
        if from_node is None:
            result = engine.replay(recording, run_id=run_id)
        else:
            edited: dict[str, Any] = {}
            if input_text is not None:
                try:
                    edited["input"] = json.loads(input_text)
                except json.JSONDecodeError as exc:
                    fail(f"--input is not valid JSON: {exc}", EXIT_USAGE)
            result = engine.replay_from(recording, from_node, offline=offline, run_id=run_id, **edited)
    show_result(result, as_json)
    if from_node is not None:
        if not as_json:
            click.echo(f"replay: new run {result.task_id}, from node '{from_node}' of the recording", err=True)
        sys.exit(EXIT_CODES[result.status])
    if not as_json:
        click.echo(f"replay: the digest matches the recording of run {result.task_id}")


OFFLINE_PROVIDERS = ("scripted", "replay")
"""The providers ``eval`` uses without ``--live``: they answer from the project, never from a network model."""


@main.command("eval", short_help="Run the evaluations.yaml cases and check their assertions.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--case", "cases", multiple=True, metavar="ID", help="Only this case (id or suite/id); repeatable.")
@click.option("--live", is_flag=True, help="Allow agents answered by live providers (not only scripted/replay).")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run each case N times and report its pass rate (for live models).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Also write JUnit XML here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every verdict.")
@guarded
def evaluate(config_dir: Path, cases: tuple[str, ...], live: bool, repeat: int, junit: Path | None,
             as_json: bool) -> None:
    """Run the cases of CONFIG_DIR/evaluations.yaml; exit 0 when every case passes, 1 when one fails.

    Agents must answer through the scripted or replay provider unless --live is given, so an evaluation in CI
    never calls a model by accident. Each verdict is stored as an 'evaluation' artifact.
    """
    from agent_engine_core.evaluations import junit_xml  # noqa: PLC0415 - only eval needs it

    with Engine.from_config_dir(config_dir) as engine:
        if engine.project.evaluations is None:
            fail(f"{config_dir} has no evaluations.yaml", EXIT_USAGE)
        live_agents = sorted(f"'{agent}' ({about['provider']})" for agent, about in engine.metadata["agents"].items()
                             if about["provider"] not in OFFLINE_PROVIDERS)
        if live_agents and not live:
            fail(f"agent{'s' if len(live_agents) > 1 else ''} {', '.join(live_agents)} would call a live provider; "
                  "pass --live to evaluate with it, or answer it with the scripted or replay provider", EXIT_USAGE)
        verdicts = engine.evaluate(cases=cases, repeat=repeat)
    if junit is not None:
        _write_atomically(junit, junit_xml(verdicts).rstrip("\n"))
    failed = sum(not v.passed for v in verdicts)
    if as_json:
        click.echo(json.dumps({"passed": len(verdicts) - failed, "failed": failed,
                               "cases": [v.to_dict() for v in verdicts]}, indent=2, ensure_ascii=False))
    else:
        _show_verdicts(verdicts, repeat)
    sys.exit(1 if failed else 0)


def _show_verdicts(verdicts: Sequence[CaseResult], repeat: int) -> None:
    """A table, one row per case (with its pass rate over the repeats), then every failed assertion."""
    from rich.console import Console  # noqa: PLC0415 - rich loads only when a table is printed
    from rich.table import Table  # noqa: PLC0415

    table = Table(title="evaluations", title_justify="left")
    for column in ("case", "status", "result", "assertions", *(["pass rate"] if repeat > 1 else [])):
        table.add_column(column, overflow="fold")
    runs: dict[tuple[str, str], list[CaseResult]] = {}
    for verdict in verdicts:
        runs.setdefault((verdict.suite, verdict.case_id), []).append(verdict)
    for (suite, case), of_case in runs.items():
        last = of_case[-1]
        held = sum(a.passed for a in last.assertions)
        passed = sum(v.passed for v in of_case)
        row = [f"{suite}/{case}", str(last.status), "pass" if passed == len(of_case) else "FAIL",
               f"{held}/{len(last.assertions)}", *([f"{passed}/{len(of_case)}"] if repeat > 1 else [])]
        table.add_row(*row)
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    for verdict in verdicts:
        for failure in (a for a in verdict.assertions if not a.passed):
            console.print(f"FAIL {verdict.suite}/{verdict.case_id} (task {verdict.task_id}): {failure.type}: "
                          f"{failure.message}", markup=False)
    failed = sum(not v.passed for v in verdicts)
    console.print(f"{len(verdicts) - failed} passed, {failed} failed", markup=False)


@main.command(short_help="Check every manifest; print every located issue.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the issues as a JSON list.")
@guarded
def validate(config_dir: Path, as_json: bool) -> None:
    """Check every manifest in CONFIG_DIR and print every located issue (exit 0 valid, 2 invalid)."""
    try:
        engine = Engine.from_config_dir(config_dir)
    except ManifestError as exc:
        if as_json:
            click.echo(json.dumps([issue.to_dict() for issue in exc.issues], indent=2))
        else:
            for issue in exc.issues:
                click.echo(str(issue))
            click.echo(f"{len(exc.issues)} issue{'s' if len(exc.issues) != 1 else ''} found", err=True)
        sys.exit(EXIT_USAGE)
    if as_json:
        click.echo("[]")
    else:
        dag = engine.dag
        edges = sum(len(n.out_edges) for n in dag.nodes.values())
        click.echo(f"ok: {len(dag.nodes)} nodes, {edges} edges, start '{dag.default_start}'")


_SHAPES = {
    Role.START: ("([", "])"),
    Role.EXIT: ("(((", ")))"),
    Role.DECISION: ("{", "}"),
    Role.BRANCH: ("{{", "}}"),
    Role.SPLIT: ("[/", "\\]"),
    Role.MERGE: ("[\\", "/]"),
    Role.LINEAR: ("[", "]"),
}


def mermaid(dag: Dag) -> str:
    """A Mermaid flowchart of ``dag``: role by node shape, agent nodes marked, decision labels on edges."""
    ids = _mermaid_ids(dag.order)
    lines = ["flowchart TD"]
    for node_id in dag.order:
        lines.append(f"    {ids[node_id]}{_mermaid_shape(dag.nodes[node_id])}")
    for node_id in dag.order:
        for edge in dag.nodes[node_id].out_edges:
            arrow = f" -->|{_mermaid_text(edge.label)}| " if edge.label else " --> "
            lines.append(f"    {ids[edge.source]}{arrow}{ids[edge.target]}")
    agents = [ids[n] for n in dag.order if dag.nodes[n].is_agent]
    if agents:
        lines.append("    classDef agent stroke-width:3px,stroke-dasharray:4 2")
        lines.append(f"    class {','.join(agents)} agent")
    return "\n".join(lines) + "\n"


def _mermaid_ids(node_ids: Sequence[str]) -> dict[str, str]:
    """A Mermaid id per node: ``n_`` and the node id with ``.`` and ``-`` as ``_``, numbered where two meet.

    Node ids may hold ``.`` and ``-``, which Mermaid ids may not; ``a.b`` and ``a_b`` would both be ``n_a_b``,
    so the later one (in the given order) gets the first free ``_2``, ``_3``... that no node's id is.
    """
    readable = {node_id: "n_" + node_id.replace(".", "_").replace("-", "_") for node_id in node_ids}
    taken = set(readable.values())
    ids: dict[str, str] = {}
    given: set[str] = set()
    for node_id in node_ids:
        base = candidate = readable[node_id]
        number = 2
        while candidate in given or (candidate != base and candidate in taken):
            candidate = f"{base}_{number}"
            number += 1
        ids[node_id] = candidate
        given.add(candidate)
    return ids


_MERMAID_ESCAPES = {ord(c): f"#{ord(c)};" for c in '"#`<>&'} | {
    code: " " for code in (*range(32), 0x7F, 0x85, 0x2028, 0x2029)}
"""What a quoted Mermaid label cannot hold as it is: a backtick would start a Markdown string, ``#`` an entity,
``<`` markup (so they are entity codes, ``#34;``); control characters and line separators become spaces."""


def _mermaid_text(text: str) -> str:
    return '"' + text.translate(_MERMAID_ESCAPES) + '"'


def _mermaid_shape(node: DagNode) -> str:
    opening, closing = _SHAPES[node.role]
    label = node.spec.name or node.id
    suffix = f" · {node.role}" + (" · agent" if node.is_agent else "")
    return f"{opening}{_mermaid_text(label + suffix)}{closing}"


@main.command(short_help="Print the workflow as a Mermaid flowchart.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@guarded
def graph(config_dir: Path) -> None:
    """Print the workflow in CONFIG_DIR as a Mermaid flowchart (node shape shows the role)."""
    click.echo(mermaid(Engine.from_config_dir(config_dir).dag), nl=False)


@main.command(short_help="List installed plugins, and those that failed to load.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@guarded
def plugins(as_json: bool) -> None:
    """List installed plugins: distribution, version, hooks, components, and those that failed to load."""
    found = load_plugins(Components())
    if as_json:
        loaded = [
            {"name": p.name, "distribution": p.distribution, "version": p.version, "source": p.source,
             "hooks": list(p.hooks), "components": list(p.components)}
            for p in found.loaded
        ]
        failed = [{"name": f.name, "distribution": f.distribution, "reason": f.reason} for f in found.failed]
        click.echo(json.dumps({"loaded": loaded, "failed": failed}, indent=2))
        return
    for plugin in found.loaded:
        version = f" {plugin.version}" if plugin.version else ""
        click.echo(f"{plugin.distribution}{version}  [{plugin.name}, {plugin.source}]")
        click.echo(f"    hooks:      {', '.join(plugin.hooks) or '-'}")
        click.echo(f"    components: {', '.join(plugin.components) or '-'}")
    for failure in found.failed:
        click.echo(f"FAILED {failure.distribution or '?'}  [{failure.name}]: {failure.reason}")


@main.command(short_help="Print the JSON Schema of the manifests, for editors.",
              help="Print the JSON Schema of each manifest (or of MANIFEST), for editors and yaml-language-server."
                   f"\n\nMANIFEST is one of: {', '.join(sorted(MANIFEST_MODELS))}.")
@click.argument("manifest", required=False, metavar="[MANIFEST]", type=click.Choice(sorted(MANIFEST_MODELS)))
@guarded
def schema(manifest: str | None) -> None:
    """Print the JSON Schema of each manifest (or of MANIFEST), for editors and yaml-language-server."""
    names = [manifest] if manifest else sorted(MANIFEST_MODELS)
    schemas = {name: MANIFEST_MODELS[name].model_json_schema(by_alias=True) for name in names}
    click.echo(json.dumps(schemas[manifest] if manifest else schemas, indent=2))

main.add_command(queue)
main.add_command(repl)
main.add_command(deploy)
main.add_command(resume)
main.add_command(approve)
main.add_command(runs)
attach(main, guarded=guarded, global_params=global_params)

if __name__ == "__main__":
    main()
