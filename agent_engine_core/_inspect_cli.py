"""``agent-engine inspect`` and ``agent-engine diff``: the run store, read from the command line.

Every command opens the project's store read-only through ``open_inspector`` (memory.yaml's ``runs:``, else
SQLite under ``.agent_engine/``), prints a rich view for people or one JSON document with ``--json``, and
closes the store. A wrong run, task or node id is exit 2 with a message naming what exists.

``agent_engine_core.cli`` adds the commands with ``attach``, handing in its guard and global options: this
module does not import the CLI (that would be an import cycle).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console

    from agent_engine_core.inspector import Inspector, RunView, StageDifference

__all__ = ["attach", "diff", "inspect", "print_run", "print_stage", "view_of"]

STATUSES = ("success", "failure", "partial")
EXIT_DIFFERENT = 1
"""``diff``: the traces differ (0 when identical, 2 for a wrong id or project)."""
SHOWN_LINES = 24
"""A value's pretty JSON longer than this is cut, saying how many lines were left out (``--json`` has all)."""
SHOWN_CHARS = 240
"""A one-line value longer than this (a long string) is cut the same way."""
PIPE_WIDTH = 160
"""The width of tables printed into a pipe or a file (rich would take 80)."""

_RELATIVE = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """``--since``: an ISO date or date-time (local time unless it names a zone), or ``10m``/``2h``/``3d`` ago."""
    if value is None:
        return None
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        return time.time() - int(relative.group(1)) * _UNIT_S[relative.group(2)]
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither an ISO date/time (2026-12-03, 2026-12-03T17:05) nor an age "
                                 "(30s, 10m, 2h, 3d)", ctx, param) from None
    return moment.timestamp()  # a naive moment is local time


@contextmanager
def _opened(config_dir: Path) -> Iterator[Inspector]:
    from agent_engine_core.inspector import open_inspector  # noqa: PLC0415 - loads the manifests' models

    inspector, close = open_inspector(config_dir, runs="local")
    try:
        yield inspector
    finally:
        close()


def _console() -> Console:
    """Rich output on stdout; into a pipe or a file, tables get room for a run id per column instead of 80."""
    from rich.console import Console  # noqa: PLC0415 - rich loads only when something is printed for people

    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_WIDTH)


def _echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def _local_time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    minutes, rest = divmod(seconds, 60)
    return f"{seconds:.2f} s" if not minutes else f"{int(minutes)} min {rest:.0f} s"


def _pretty(value: Any) -> str:
    """``value`` as indented JSON, cut to ``SHOWN_LINES`` lines (or ``SHOWN_CHARS`` for one long line)."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    lines = text.splitlines()
    if len(lines) > SHOWN_LINES:
        left = len(lines) - SHOWN_LINES
        return "\n".join([*lines[:SHOWN_LINES], f"… ({left} more line{'s' if left > 1 else ''}; --json has all)"])
    if len(text) > SHOWN_CHARS:
        return f"{text[:SHOWN_CHARS]}… ({len(text) - SHOWN_CHARS} more characters; --json has all)"
    return text


def view_of(inspector: Inspector, task: str) -> tuple[RunView, str]:
    """The run TASK names and the task it names (the root task for a run id; checked to exist)."""
    view = inspector.run(task)
    if task != view.summary.run_id:
        view.path(task)  # InvalidInput naming the run's tasks when there is no such task
    return view, task


@click.group("inspect", short_help="Look at stored runs: runs, show, stage, artifacts, events.")
@click.argument("config_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR")
@click.pass_context
def inspect(ctx: click.Context, config_dir: Path) -> None:
    """Look at the runs kept in the run store of the project in DIR (nothing here changes a run).

    TASK is a run id or the id of any task in it (run-1/split#0). Every command takes --json and then prints
    one JSON document.
    """
    ctx.obj = config_dir



def _subcommand(name: str, short_help: str) -> Callable[[Callable[..., Any]], click.Command]:
    """An ``inspect`` subcommand: ``--json``, and DIR from the group."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        with_json = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(function)
        return inspect.command(name, short_help=short_help)(click.pass_obj(with_json))

    return decorate


@_subcommand("runs", "List the stored runs, newest first.")
@click.option("--status", type=click.Choice(STATUSES), help="Only runs that ended with this status.")
@click.option("--since", metavar="WHEN", callback=_since,
              help="Only runs started since: an ISO date/time, or 30s, 10m, 2h, 3d ago.")
@click.option("--limit", type=click.IntRange(min=0), help="At most this many (the newest).")
def runs(config_dir: Path, status: str | None, since: float | None, limit: int | None, as_json: bool) -> None:
    """List the stored runs, newest first: id, status, start, duration, stages, tokens, replay origin."""
    with _opened(config_dir) as inspector:
        summaries = inspector.runs(status=status, since=since, limit=limit)
    if as_json:
        _echo_json([summary.to_dict() for summary in summaries])
        return
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"runs in {config_dir}", title_justify="left")
    for column in ("run id", "task id", "status", "started", "duration", "nodes", "tokens", "replayed from"):
        table.add_column(column, overflow="fold", justify="right" if column in ("nodes", "tokens") else "left")
    for s in summaries:
        table.add_row(s.run_id, s.task_id, s.status, _local_time(s.started_at), _duration(s.duration_s),
                      str(s.nodes), str(s.tokens), s.origin or "-")
    console = _console()
    console.print(table)
    console.print(f"{len(summaries)} run{'s' if len(summaries) != 1 else ''}", markup=False)


@_subcommand("show", "A run's summary and the DAG path each of its tasks took.")
@click.argument("task")
def show(config_dir: Path, task: str, as_json: bool) -> None:
    """The run's summary (status, digest, duration, tokens, origin, error) and the path each task took.

    The root task's stages come first, then each fan-out's children, indented by depth. With a child's TASK,
    only that task and the tasks it created are shown.
    """
    with _opened(config_dir) as inspector:
        view, chosen = view_of(inspector, task)
    print_run(view, chosen, as_json=as_json)


def print_run(view: RunView, chosen: str, *, as_json: bool = False, console: Console | None = None) -> None:
    """``inspect show``: the run's summary and the path of ``chosen`` and the tasks it created."""
    tasks = _subtree(view.tasks(), chosen)
    paths = {t["task_id"]: view.path(t["task_id"]) for t in tasks}
    summary = view.summary
    if as_json:
        _echo_json({"summary": summary.to_dict(), "digest": view.trace.digest, "error": view.result["error"],
                    "origin": view.origin, "tasks": [{**t, "path": paths[t["task_id"]]} for t in tasks]})
        return
    console = console or _console()
    origin = view.origin
    console.print(f"run {summary.run_id}: {summary.status}", markup=False)
    for label, value in (("digest", view.trace.digest), ("started", _local_time(summary.started_at)),
                         ("duration", _duration(summary.duration_s)), ("stages", str(summary.nodes)),
                         ("tokens", str(summary.tokens))):
        console.print(f"  {label + ':':<10}{value}", markup=False)
    if origin is not None:
        changed = ", with an edited input" if origin.get("input_changed") else ""
        console.print(f"  {'origin:':<10}replayed from run {origin['run_id']} at node '{origin['from_node']}'"
                      f"{changed}", markup=False)
    error = view.result["error"]
    if error:
        console.print(f"  {'error:':<10}[{error['kind']}] at node '{error['node_id']}': {error['message']}",
                      markup=False)
    from rich.padding import Padding  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    depth0 = len(tasks[0]["lineage"]["path"])
    for t in tasks:
        indent = 2 * (len(t["lineage"]["path"]) - depth0)
        table = Table(show_edge=False, pad_edge=False)
        for column in ("seq", "node", "status", "route", "duration"):
            table.add_column(column, overflow="fold")
        for stage in paths[t["task_id"]]:
            table.add_row(str(stage["seq"]), stage["node_id"], stage["status"], ", ".join(stage["route"]) or "-",
                          _duration(stage["duration_s"]))
        console.print()
        console.print(" " * indent + _task_title(t), markup=False)
        console.print(Padding(table, (0, 0, 0, indent), expand=False))


def _task_title(task: Mapping[str, Any]) -> str:
    lineage = task["lineage"]
    if lineage["parent_id"] is None:
        where = "root task"
    else:
        step = lineage["path"][-1]
        where = f"{lineage['kind']} #{step['index']} of '{step['node_id']}'"  # the indentation shows the parent
    return f"task {task['task_id']} ({where}): {task['status']}"


def _subtree(tasks: Sequence[dict[str, Any]], root: str) -> list[dict[str, Any]]:
    """``root`` and every task it created, directly or through its children, in the run's task order."""
    parents = {t["task_id"]: t["lineage"]["parent_id"] for t in tasks}

    def within(task_id: str | None) -> bool:
        while task_id is not None:
            if task_id == root:
                return True
            task_id = parents.get(task_id)
        return False

    return [t for t in tasks if within(t["task_id"])]


@_subcommand("stage", "One stage: input, output, context, agent and tool calls, error.")
@click.argument("task")
@click.argument("node")
@click.option("--task", "child", metavar="TASK_ID", help="The task whose stage at NODE to show (in a fan-out).")
def stage(config_dir: Path, task: str, node: str, child: str | None, as_json: bool) -> None:
    """Everything about the stage of TASK at NODE, as the handler saw it.

    Its input, output, the context assembled for it, each agent call (provider, model, usage, latency, the
    request's messages and the reply), each tool call with its arguments and result, and its error. In a
    fan-out, name the child with --task (or give the child's id as TASK).
    """
    with _opened(config_dir) as inspector:
        view, chosen = view_of(inspector, task)
    task_id = child if child is not None else (None if chosen == view.summary.run_id else chosen)
    print_stage(view, node, task_id, as_json=as_json)


def print_stage(view: RunView, node: str, task_id: str | None, *, as_json: bool = False,
                console: Console | None = None) -> None:
    """``inspect stage``: everything about one stage (the root task's, or ``task_id``'s)."""
    record = view.stage(node, task_id)
    if as_json:
        _echo_json(record)
        return
    console = console or _console()
    console.print(f"stage {record['seq']} of task {record['task_id']} at node '{record['node_id']}': "
                  f"{record['status']}, {_duration(record['duration_s'])}, route: "
                  f"{', '.join(record['route']) or '-'}", markup=False)
    _section(console, "input", _pretty(record["input"]))
    _section(console, "output", _pretty(record["output"]))
    context = record["context"]
    _section(console, f"context ({len(context)} entr{'y' if len(context) == 1 else 'ies'})",
             "\n".join(f"[{i}] {e['store']} tags={','.join(e['tags']) or '-'}\n{_indented(_pretty(e['payload']))}"
                       for i, e in enumerate(context)) or "none")
    calls = record["agent_calls"]
    _section(console, f"agent calls ({len(calls)})",
             "\n\n".join(_agent_call(i, call) for i, call in enumerate(calls)) or "none")
    tools = record["tool_calls"]
    _section(console, f"tool calls ({len(tools)})",
             "\n\n".join(_tool_call(i, call) for i, call in enumerate(tools)) or "none")
    error = record["error"]
    recorded = "\n(the handler's traceback was recorded: --json shows it)" if error and error.get("traceback") else ""
    _section(console, "error", "none" if error is None else
             f"[{error['kind']}] {error['message']}\ndetails: {_pretty(error['details'])}{recorded}")


def _section(console: Console, title: str, body: str) -> None:
    console.print(f"\n── {title}", markup=False)
    console.print(body, markup=False)


def _indented(text: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def _agent_call(index: int, call: Mapping[str, Any]) -> str:
    usage = ", ".join(f"{k} {v}" for k, v in call["usage"].items()) or "none"
    lines = [f"[{index}] {call['provider']}/{call['model']}  usage: {usage}  latency: {_duration(call['latency_s'])}"]
    lines.extend(f"    attempt failed: {attempt.get('error')}" for attempt in call.get("attempts", ()))
    request = call["request"]
    if request.get("system"):
        lines.append(f"    system: {request['system']}")
    for message in request["messages"]:
        name = f" {message['name']}" if message.get("name") else ""
        lines.append(f"    {message['role']}{name}: {_shortened(message.get('content', '')) or '(no text)'}")
        lines.extend(f"      asks {c['name']}({json.dumps(c['arguments'], ensure_ascii=False)}) [{c['id']}]"
                     for c in message.get("tool_calls", ()))
    reply = call["reply"]
    if reply is None:
        lines.append(f"    no reply: {call['error']}")
    else:
        lines.append(f"    reply: {_shortened(reply['content']) or '(no text)'}")
        lines.extend(f"      asks {c['name']}({json.dumps(c['arguments'], ensure_ascii=False)}) [{c['id']}]"
                     for c in reply.get("tool_calls", ()))
    return "\n".join(lines)


def _shortened(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text) - SHOWN_CHARS} more characters)"


def _tool_call(index: int, call: Mapping[str, Any]) -> str:
    lines = [f"[{index}] {call['tool_id']} ({call['call_id']}): {call['status']}",
             f"    arguments: {_indented(_pretty(call['arguments'])).lstrip()}"]
    if call.get("error"):
        lines.append(f"    error: {call['error']}")
    else:
        lines.append(f"    result: {_indented(_pretty(call['output'])).lstrip()}")
    return "\n".join(lines)


@_subcommand("artifacts", "The artifacts a run stored (node outputs, tool results, evaluations).")
@click.argument("task")
@click.option("--kind", help="Only artifacts of this kind (node_output, tool_result, evaluation, ...).")
def artifacts(config_dir: Path, task: str, kind: str | None, as_json: bool) -> None:
    """The artifacts the run of TASK stored, in order (only TASK's own when it names a child task)."""
    with _opened(config_dir) as inspector:
        view, chosen = view_of(inspector, task)
    stored = view.artifacts()
    chosen_task = None if chosen == view.summary.run_id else chosen
    shown = [a for a in stored if (kind is None or a["kind"] == kind)
             and (chosen_task is None or a["task_id"] == chosen_task)]
    if as_json:
        _echo_json(shown)
        return
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"artifacts of {task}" + (f" of kind {kind}" if kind else ""), title_justify="left")
    for column in ("id", "kind", "task", "node", "created", "payload"):
        table.add_column(column, overflow="fold")
    for a in shown:
        table.add_row(a["id"], a["kind"], a["task_id"], a["node_id"] or "-", _local_time(a["created_at"]),
                      _shortened(json.dumps(a["payload"], ensure_ascii=False)))
    console = _console()
    console.print(table)
    kinds = sorted({a["kind"] for a in stored})
    note = f" (kinds stored: {', '.join(kinds) or 'none'})" if kind is not None and not shown else ""
    console.print(f"{len(shown)} artifact{'s' if len(shown) != 1 else ''}{note}", markup=False)


@_subcommand("events", "The events a run emitted, in order.")
@click.argument("task")
def events(config_dir: Path, task: str, as_json: bool) -> None:
    """The events the run of TASK emitted, in order (only TASK's own when it names a child task).

    When memory.yaml says runs: {events: false} the store keeps none, and this says so.
    """
    with _opened(config_dir) as inspector:
        view, chosen = view_of(inspector, task)
    kept = view.events()
    chosen_task = None if chosen == view.summary.run_id else chosen
    shown = None if kept is None else [e for e in kept if chosen_task is None or e.get("task_id") == chosen_task]
    if as_json:
        _echo_json({"run_id": view.summary.run_id, "kept": kept is not None, "events": shown})
        return
    console = _console()
    if shown is None:
        console.print(f"run {view.summary.run_id}: its events were not kept (memory.yaml has runs: "
                      "{events: false}); its stages are still there: inspect show / stage", markup=False)
        return
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"events of {task}", title_justify="left")
    for column in ("seq", "at", "type", "task", "node", "detail"):
        table.add_column(column, overflow="fold")
    first = shown[0]["timestamp"] if shown else 0.0
    for e in shown:
        table.add_row(str(e.get("seq", "")), f"+{_duration(e['timestamp'] - first)}", e["type"],
                      e.get("task_id") or "-", e.get("node_id") or "-", _event_detail(e))
    console.print(table)
    console.print(f"{len(shown)} event{'s' if len(shown) != 1 else ''}", markup=False)


_EVENT_BULK = frozenset({"type", "run_id", "task_id", "seq", "timestamp", "node_id", "input", "output", "lineage",
                         "request", "reply", "entries", "result"})
"""Columns of the table, and payloads that ``inspect stage`` shows whole."""
EVENT_DETAIL_CHARS = 120


def _event_detail(event: Mapping[str, Any]) -> str:
    """The fields that say what happened (status, route, tool, tokens...), leaving out ids and payloads."""
    rest = {k: v for k, v in event.items() if k not in _EVENT_BULK and v not in (None, [], {})}
    text = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in rest.items())
    return text if len(text) <= EVENT_DETAIL_CHARS else text[:EVENT_DETAIL_CHARS] + "…"


@click.command("diff", short_help="The first stage where two stored runs differ.")
@click.argument("config_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR")
@click.argument("task_a")
@click.argument("task_b")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def diff(config_dir: Path, task_a: str, task_b: str, as_json: bool) -> None:
    """Compare the canonical traces of the runs of TASK_A and TASK_B, stage by stage.

    Exit 0 with "identical traces", or exit 1 showing the first differing stage (its index, node and task)
    and, for each field that differs, both values. Task ids are compared without their run id (RUN/...), so
    two runs of one input line up. Exit 2 when a run is not in the store.
    """
    with _opened(config_dir) as inspector:
        left, right = inspector.run(task_a).summary.run_id, inspector.run(task_b).summary.run_id
        difference = inspector.diff(left, right)
    if as_json:
        _echo_json({"left": left, "right": right, "identical": difference is None,
                    "difference": None if difference is None else difference.to_dict()})
    elif difference is None:
        click.echo(f"identical traces: runs {left} and {right} took the same stages with the same data")
    else:
        _show_difference(difference, left, right)
    if difference is not None:
        sys.exit(EXIT_DIFFERENT)


def attach(main: click.Group, *, guarded: Callable[[Callable[..., Any]], Callable[..., Any]],
           global_params: Callable[[], list[click.Parameter]]) -> None:
    """Add ``inspect`` and ``diff`` to ``main``: guarded like its own commands, taking its global options too."""
    for command in (inspect, diff, *inspect.commands.values()):
        command.params.extend(global_params())
        if command.callback is not None and not isinstance(command, click.Group):
            command.callback = guarded(command.callback)
    main.add_command(inspect)
    main.add_command(diff)


def _show_difference(difference: StageDifference, left: str, right: str) -> None:
    console = _console()
    line = difference.left if difference.left is not None else difference.right
    assert line is not None
    what = f"stage at node '{line['node']}'" if "node" in line else "task outcome"
    task = str(line["task"])
    console.print(f"runs {left} and {right} differ at line {difference.index} of their traces: {what}, "
                  f"task {task.replace('RUN', left, 1)} / {task.replace('RUN', right, 1)}", markup=False)
    for side, run_id in ((difference.left, left), (difference.right, right)):
        if side is None:
            console.print(f"run {run_id}'s trace ends before it", markup=False)
    if difference.left is None or difference.right is None:
        return
    for field in difference.fields:
        one, two = _narrowed(difference.left.get(field), difference.right.get(field))
        console.print(f"\n── {field}", markup=False)
        console.print(f"{left}:\n{_indented(_pretty(one), '  ')}\n{right}:\n{_indented(_pretty(two), '  ')}",
                      markup=False)


def _narrowed(one: Any, two: Any) -> tuple[Any, Any]:
    """Two differing values reduced to where they differ.

    Mappings keep the keys whose values differ; lists of one length keep their differing items and show
    ``SAME`` for the others; both narrowed likewise all the way down.
    """
    if isinstance(one, dict) and isinstance(two, dict):
        keys = [k for k in dict.fromkeys([*one, *two]) if one.get(k, _MISSING) != two.get(k, _MISSING)]
        pairs = {k: _narrowed(one.get(k), two.get(k)) for k in keys}
        return {k: a for k, (a, _) in pairs.items() if k in one}, {k: b for k, (_, b) in pairs.items() if k in two}
    if isinstance(one, list) and isinstance(two, list) and len(one) == len(two):
        pairs_ = [(SAME, SAME) if a == b else _narrowed(a, b) for a, b in zip(one, two, strict=True)]
        return [a for a, _ in pairs_], [b for _, b in pairs_]
    return one, two


SAME = "…"
"""What stands for a list item both values have (``diff`` shows only what differs)."""
_MISSING = object()
"""A key one mapping has and the other has not (a ``null`` value is a value)."""
