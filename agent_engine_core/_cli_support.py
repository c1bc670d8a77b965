"""What every ``agent-engine`` subcommand shares: exit codes, the error guard, the global options.

A module of its own so that the commands kept in modules beside ``cli`` (inspect, queue) use the same guard
without importing ``cli``, which registers them.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import os
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import click

from agent_engine_core._build.components import Components
from agent_engine_core._logging import configure as configure_logging
from agent_engine_core._plugins.loader import load_plugins
from agent_engine_core.errors import AgentEngineError, InvalidInput, ManifestError
from agent_engine_core.events import NodeFinished, NodeStarted
from agent_engine_core.hookspecs import hookimpl
from agent_engine_core.records import Status, TaskResult

__all__ = [
    "EXIT_CLOSED_STDOUT", "EXIT_CODES", "EXIT_USAGE", "Command", "GlobalOptions", "Progress", "configure_logging_from",
    "fail", "global_options", "global_params", "guarded", "plugin_commands", "run_progress", "show_pending",
    "show_result",
]

EXIT_CODES = {Status.SUCCESS: 0, Status.FAILURE: 1, Status.PARTIAL: 3, Status.WAITING: 4}
EXIT_USAGE = 2
EXIT_CLOSED_STDOUT = 128 + 13
"""What a shell reports for a tool ended by SIGPIPE (13): its reader closed the pipe (``| head -1``)."""

F = TypeVar("F", bound=Callable[..., Any])


def show_result(result: TaskResult, as_json: bool) -> None:
    """Print a run's result: one JSON object, or status, task, digest and output (and what a waiting run waits for)."""
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    click.echo(f"status: {result.status}")
    click.echo(f"task:   {result.task_id}")
    click.echo(f"digest: {result.trace.digest}")
    if result.status is Status.WAITING:
        show_pending(result.metadata.get("approvals", ()))
        return
    click.echo("output:")
    click.echo(json.dumps(result.output, indent=2, ensure_ascii=False))
    if result.error:
        error = result.error
        click.echo(f"error: [{error['kind']}] at node '{error['node_id']}': {error['message']}", err=True)


def show_pending(approvals: Any) -> None:
    """The approvals a run waits for: what each approves, its fingerprint (``approve`` names it) and timeout."""
    for item in approvals:
        what = f"tool '{item['tool_id']}' with arguments" if item["target"] == "tool" else "input"
        click.echo(f"waiting for approval: run {item['run_id']} task {item['task_id']} node '{item['node_id']}'")
        if item.get("prompt"):
            click.echo(f"  prompt:      {item['prompt']}")
        value = item["arguments"] if item["target"] == "tool" else item["input"]
        click.echo(f"  {what + ':':<12} {json.dumps(value, ensure_ascii=False)}")
        click.echo(f"  fingerprint: {item['fingerprint']}")
        if item.get("timeout") is not None:
            click.echo(f"  timeout:     {item['timeout']:g} s after it was asked for")


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def guarded(command: F) -> F:
    """Turn engine errors into messages and exit codes; tracebacks only with ``--debug``.

    stdout is flushed inside the guard, so a reader that went away (``| head -1``) is noticed here and ends the
    program quietly, not as an internal error or at interpreter exit.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = global_options(click.get_current_context()).debug
        try:
            with warnings.catch_warnings():
                if not debug:
                    warnings.showwarning = _show_warning
                try:
                    return command(*args, **kwargs)
                finally:
                    sys.stdout.flush()
        except BrokenPipeError:
            _exit_for_closed_stdout()
        except click.ClickException:  # click's own report of a bad argument (exit 2, "Error: ..."), not a fault
            raise
        except ManifestError as exc:
            click.echo(str(exc), err=True)
            sys.exit(EXIT_USAGE)
        except InvalidInput as exc:
            fail(str(exc), EXIT_USAGE)
        except AgentEngineError as exc:
            if debug:
                traceback.print_exc()
            fail(str(exc), 1)
        except Exception as exc:  # the last line of defence: no traceback without --debug
            if debug:
                traceback.print_exc()
            fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)

    return wrapper  # type: ignore[return-value]


def _exit_for_closed_stdout() -> NoReturn:
    """End as a Unix tool whose reader closed the pipe does: no message, the shell's status for SIGPIPE.

    As Python's docs advise ("Note on SIGPIPE"), stdout is pointed at devnull first, so the interpreter's final
    flush of what is still buffered cannot fail a second time.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_CLOSED_STDOUT)


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    """A warning as one ``warning:`` line: its message locates it in the user's files; Python's source is noise."""
    click.echo(f"warning: {message}", err=True)


@dataclass(slots=True)
class GlobalOptions:
    """``--debug``, ``-v``/``-vv`` and ``--log-json``, as given before the subcommand and after it together."""

    debug: bool = False
    verbose: int = 0
    log_json: bool = False


def global_options(ctx: click.Context) -> GlobalOptions:
    options: GlobalOptions = ctx.meta.setdefault("agent_engine.global_options", GlobalOptions())
    return options


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    options = global_options(ctx)
    if param.name == "verbose":
        options.verbose += value
    elif value:
        setattr(options, str(param.name), True)


def global_params() -> list[click.Parameter]:
    """The global options, for the group and for each subcommand: they mean the same wherever they are given."""
    return [
        click.Option(["--debug"], is_flag=True, expose_value=False, callback=_remember,
                     help="Show tracebacks of unexpected errors and debug logs."),
        click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_remember,
                     help="More log output on stderr (-v info, -vv debug)."),
        click.Option(["--log-json"], is_flag=True, expose_value=False, callback=_remember,
                     help="Log JSON lines on stderr instead of console text."),
    ]


def configure_logging_from(options: GlobalOptions) -> None:
    verbose = options.debug or options.verbose > 1
    level = logging.DEBUG if verbose else logging.INFO if options.verbose else logging.WARNING
    configure_logging(level, json=options.log_json)


class Command(click.Command):
    """A subcommand: it takes the global options too, and sets logging up from all of them before it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_params())

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command with logging set up from the global options wherever they were given."""
        configure_logging_from(global_options(ctx))
        return super().invoke(ctx)


def plugin_commands() -> dict[str, click.Command]:
    """The commands plugins register with ``register_cli_commands``, guarded like the built-in ones.

    A built-in name always means the built-in command; what is not a ``click.Command`` is reported on stderr
    and left out, so a broken plugin cannot break the CLI.
    """
    components = Components()
    found = load_plugins(components)
    for failure in found.failed:
        click.echo(f"warning: plugin {failure.distribution or failure.name} was not loaded: {failure.reason}",
                   err=True)
    commands: dict[str, click.Command] = {}
    for name, registration in components.of("cli_command").items():
        command = registration.factory
        if not isinstance(command, click.Command):
            click.echo(f"warning: {registration.distribution} registered CLI command '{name}', which is not a "
                       f"click command (a {type(command).__name__}); it is left out", err=True)
            continue
        commands[name] = _guarded_copy(command)
    return commands


def _guarded_copy(command: click.Command) -> click.Command:
    """A copy of ``command`` whose callback, and those of its sub-commands (a group's), are ``guarded``.

    The plugin's own objects stay as it made them.
    """
    wrapped = copy.copy(command)
    if wrapped.callback is not None:
        wrapped.callback = guarded(wrapped.callback)
    if isinstance(wrapped, click.Group):
        wrapped.commands = {name: _guarded_copy(sub) for name, sub in wrapped.commands.items()}
    return wrapped


class Progress:
    """A spinner on stderr naming the node that started last, fed by the engine's ``node_started`` events.

    It appears only once a run has lasted ``DELAY_S`` (a quick run prints nothing extra) and is erased before
    the result is printed. Used only when stdout and stderr are both terminals and ``--json`` was not asked for.
    """

    name = "agent-engine-cli-progress"
    DELAY_S = 0.5

    def __init__(self) -> None:
        from rich.console import Console  # noqa: PLC0415 - rich loads only when a terminal will show it
        from rich.live import Live  # noqa: PLC0415
        from rich.spinner import Spinner  # noqa: PLC0415

        self._done = 0
        self._spinner = Spinner("dots", text="starting")
        self._live = Live(self._spinner, console=Console(stderr=True), transient=True, refresh_per_second=10)
        self._timer = threading.Timer(self.DELAY_S, self._live.start)
        self._timer.daemon = True

    @staticmethod
    def wanted(as_json: bool) -> bool:
        """Progress goes to a person at a terminal: never into a pipe, a file or a ``--json`` reader."""
        return not as_json and sys.stdout.isatty() and sys.stderr.isatty()

    @hookimpl
    def on_node_started(self, event: NodeStarted) -> None:
        """Name the node now running (in a fan-out, the one that started last)."""
        task = "" if event.task_id == event.run_id else f" in task {event.task_id}"
        done = f"{self._done} stage{'' if self._done == 1 else 's'} done"
        self._spinner.update(text=f"running node '{event.node_id}'{task} · {done}")

    @hookimpl
    def on_node_finished(self, event: NodeFinished) -> None:
        """Count the stage (shown when the next one starts)."""
        self._done += 1

    def __enter__(self) -> Progress:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        self._timer.join()  # if the spinner was just being shown, it is shown before it is stopped
        self._live.stop()


def run_progress(as_json: bool) -> tuple[list[object], contextlib.AbstractContextManager[object]]:
    """The engine plugins and the context that show a run's progress (none and a no-op when not wanted)."""
    if not Progress.wanted(as_json):
        return [], contextlib.nullcontext()
    progress = Progress()
    return [progress], progress
