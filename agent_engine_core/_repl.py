"""The REPL's commands and runs, apart from the terminal: what ``agent-engine repl`` does with each line.

A plain line fills the profile's ``input_field`` (with the pending attachments under its ``attach_field``)
and runs the workflow; a line starting with ``/`` is a command. Every line is handled inside one guard: an
error is one ``error:`` line (a traceback only with ``--debug``) and the session goes on.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import shlex
import subprocess
import tempfile
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

from agent_engine_core._build.cli_profiles import input_properties
from agent_engine_core._cli_support import Progress, plugin_commands
from agent_engine_core._inspect_cli import print_run, print_stage, view_of
from agent_engine_core._repl_session import Session, Turn, sessions_dir
from agent_engine_core.engine import Engine
from agent_engine_core.errors import AgentEngineError, InvalidInput, ManifestError
from agent_engine_core.events import NodeFinished, NodeStarted
from agent_engine_core.hookspecs import hookimpl
from agent_engine_core.manifests.models import CliProfile
from agent_engine_core.records import Status

if TYPE_CHECKING:
    from rich.console import Console

    from agent_engine_core.records import TaskResult

__all__ = ["COMMANDS", "Reader", "Repl", "render"]

SHOWN_TURNS = 20
"""/history shows this many of the latest turns (``/history all`` shows every one)."""


class _Quit(Exception):
    """``/quit``: leave the REPL (a sentinel the loop catches, never an error)."""


class Reader(Protocol):
    """Where lines come from: a prompt_toolkit session on a terminal, or the lines of a pipe."""

    terminal: bool

    def read(self, prompt: str) -> str:
        """The next line (``EOFError`` at the end)."""
        ...

    def edit(self, prompt: str, text: str) -> str | None:
        """``text`` edited in place (``None`` where that cannot be done)."""
        ...


@dataclass(frozen=True, slots=True)
class Spec:
    """A command: its usage line and what it does."""

    usage: str
    help: str


COMMANDS: Mapping[str, Spec] = {
    "help": Spec("/help", "this list"),
    "attach": Spec("/attach FILE", "add the file's content to the next input (/attach alone lists them)"),
    "history": Spec("/history [all]", "this session's turns: input, status, summary"),
    "retry": Spec("/retry", "run the last input again"),
    "edit-last": Spec("/edit-last", "edit the last input ($VISUAL or $EDITOR, else in place), then run it"),
    "status": Spec("/status", "profile, project, session, last run, tokens, queue"),
    "inspect": Spec("/inspect [TASK|#TURN] [NODE]", "a stored run (default: the last), or one of its stages"),
    "approvals": Spec("/approvals", "the runs waiting for approvals, with what each waits for"),
    "approve": Spec("/approve [NODE]", "approve what the last waiting run waits for (at NODE), then resume it"),
    "reject": Spec("/reject [NODE] REASON", "reject it: the stage fails with kind approval"),
    "queue": Spec("/queue TEXT", "queue an input to run later with /run-queue"),
    "run-queue": Spec("/run-queue", "run every queued input"),
    "queue-status": Spec("/queue-status", "how many queued inputs are in each state"),
    "profile": Spec("/profile [NAME]", "switch to another profile (alone: list them)"),
    "quit": Spec("/quit", "leave (Ctrl-D does too); the session is kept"),
}
"""The built-in commands, in the order /help lists them."""


class _Relay:
    """Forwards node events to the spinner of the run in progress (the engine's observers are fixed at build)."""

    name = "agent-engine-repl-progress"

    def __init__(self) -> None:
        self.current: Progress | None = None

    @hookimpl
    def on_node_started(self, event: NodeStarted) -> None:
        """Name the node in the spinner."""
        if self.current is not None:
            self.current.on_node_started(event)

    @hookimpl
    def on_node_finished(self, event: NodeFinished) -> None:
        """Count the stage in the spinner."""
        if self.current is not None:
            self.current.on_node_finished(event)


class Repl:
    """One REPL: the profiles of DIR, the profile in use with its engine and session, and the commands."""

    def __init__(self, config_dir: Path, profiles: Sequence[CliProfile], console: Console, *,
                 session_name: str | None = None, debug: bool = False) -> None:
        self.config_dir = config_dir
        self.profiles = {p.id: p for p in profiles}
        self.console = console
        self.session_name = session_name
        self.debug = debug
        self.reader: Reader | None = None
        self.last_status = "-"
        self._relay = _Relay()
        self._engine: Engine | None = None
        self._queued: dict[str, Any] = {}
        self._plugin_commands: dict[str, click.Command] | None = None
        self.profile = profiles[0]
        self.session = Session(Path())

    # ---- profiles, engine and session ------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine of the profile in use."""
        if self._engine is None:
            raise InvalidInput("no profile is open")
        return self._engine

    def project_dir(self, profile: CliProfile) -> Path:
        """The config dir ``profile`` runs (its ``default_config_dir``, relative to DIR)."""
        return (self.config_dir / profile.default_config_dir) if profile.default_config_dir else self.config_dir

    def open(self, profile_id: str) -> None:
        """Switch to profile ``profile_id``: build its engine, check its fields, open its session."""
        profile = self.profiles.get(profile_id)
        if profile is None:
            raise InvalidInput(f"there is no profile '{profile_id}'" + _suggestion(profile_id, self.profiles)
                               + f"; profiles: {', '.join(self.profiles)}")
        directory = self.project_dir(profile)
        engine = Engine.from_config_dir(directory, plugins=[self._relay], runs="local")
        try:
            fields = input_properties(engine.project.workflow.nodes if engine.project.workflow else (),
                                      engine.project.schemas)
            for name in (profile.input_field, profile.attach_field):
                if fields is not None and name is not None and name not in fields:
                    raise InvalidInput(f"profile '{profile.id}' fills '{name}', which the input schema of "
                                       f"{directory} does not have (its fields: {', '.join(fields)})")
        except BaseException:
            engine.close()
            raise
        self.close()
        self._engine, self.profile = engine, profile
        self._queued.clear()
        self.session, warning = Session.open(sessions_dir(directory) / f"{self.session_name or profile.id}.json")
        if warning:
            self.console.print(f"warning: {warning}", markup=False)
        self.last_status = self.session.turns[-1].status if self.session.turns else "-"

    def close(self) -> None:
        """Close the engine in use (its run store is written first)."""
        if self._engine is not None:
            engine, self._engine = self._engine, None
            engine.close()

    def __enter__(self) -> Repl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the loop ---------------------------------------------------------------------------------------

    def loop(self, reader: Reader) -> None:
        """Read and handle lines until /quit or the end of input."""
        self.reader = reader
        earlier = len(self.session.turns)
        self.console.print(f"profile {self.profile.id} · {self.project_dir(self.profile)}"
                           + (f" · {earlier} earlier turn{'s' if earlier != 1 else ''} (/history)" if earlier else "")
                           + " · /help lists the commands", markup=False, highlight=False)
        while True:
            try:
                line = reader.read(self.profile.prompt)
            except KeyboardInterrupt:
                continue  # Ctrl-C clears the line being typed
            except EOFError:
                return
            try:
                self.handle(line)
            except _Quit:
                return

    def handle(self, line: str) -> None:
        """One line: a command or an input; any error is reported and the session goes on."""
        text = line.strip()
        if not text:
            return
        try:
            if text.startswith("/"):
                name, _, arg = text[1:].partition(" ")
                self.command(name, arg.strip())
            else:
                self.run_input(self.payload(line.strip("\n")))
        except _Quit:
            raise
        except KeyboardInterrupt:
            self.console.print("interrupted (a run stopped this way is not kept)", markup=False)
        except ManifestError as exc:
            self.console.print(str(exc), markup=False)
        except (AgentEngineError, ValueError, OSError) as exc:
            self._trace()
            self.console.print(f"error: {exc}", markup=False)
        except Exception as exc:  # the REPL outlives every bug: one line, the traceback only with --debug
            self._trace()
            self.console.print(f"internal error: {type(exc).__name__}: {exc} (start with --debug for the "
                               "traceback)", markup=False)

    def _trace(self) -> None:
        if self.debug:
            self.console.print(traceback.format_exc(), markup=False)

    def command(self, name: str, arg: str) -> None:
        """Run command ``/name arg``: a built-in one, else a plugin's the profile offers."""
        if name in COMMANDS:
            getattr(self, f"cmd_{name.replace('-', '_')}")(arg)
            return
        plugin = self.plugin_commands().get(name)
        if plugin is None:
            known = [*COMMANDS, *self.plugin_commands()]
            raise InvalidInput(f"unknown command /{name}{_suggestion(name, known, prefix='/')}; /help lists them")
        _invoke(plugin, name, arg)

    def plugin_commands(self) -> dict[str, click.Command]:
        """The plugin commands this profile offers (``commands:``, or every installed one), by name."""
        if self._plugin_commands is None:
            self._plugin_commands = {n: c for n, c in plugin_commands().items() if n not in COMMANDS}
        offered = self.profile.commands
        return {n: c for n, c in self._plugin_commands.items() if offered is None or n in offered}

    # ---- runs -------------------------------------------------------------------------------------------

    def payload(self, text: str) -> dict[str, Any]:
        """The task input of a typed line: the input field, and the pending attachments under the attach field."""
        payload: dict[str, Any] = {self.profile.input_field: text}
        if self.profile.attach_field is not None and self.session.attachments:
            payload[self.profile.attach_field] = self.session.take_attachments()
        return payload

    def run_input(self, payload: Any) -> None:
        """Run the workflow on ``payload`` (a spinner on a terminal), record the turn and show the result."""
        progress = Progress() if self.reader is not None and self.reader.terminal else None
        self._relay.current = progress
        try:
            with progress or contextlib.nullcontext():
                result = self.engine.run(payload)
        finally:
            self._relay.current = None
        self._record(payload, result)
        self.show(result)

    def _record(self, payload: Any, result: TaskResult) -> None:
        tokens = result.usage.get("input_tokens", 0) + result.usage.get("output_tokens", 0)
        self.session.record(Turn.of(payload, result.task_id, str(result.status), result.output, result.error,
                                    tokens))
        self.last_status = str(result.status)

    def show(self, result: TaskResult) -> None:
        """The result's status line, then its output as the profile renders it."""
        turn = len(self.session.turns)
        calls = result.usage.get("agent_calls", 0)
        self.console.print(f"#{turn} {result.status} · {result.task_id} · {calls} agent call{'s' if calls != 1 else ''}"
                           f" · {self.session.turns[-1].tokens} tokens", markup=False, highlight=False)
        if result.status is Status.WAITING:
            self._show_pending(result.metadata.get("approvals", ()))
            self.console.print("/approve or /reject REASON decides it", markup=False)
            return
        if result.error:
            error = result.error
            self.console.print(f"error: [{error['kind']}] at node '{error['node_id']}': {error['message']}",
                               markup=False)
            return
        render(self.console, result.output, self.profile.render)

    def _show_pending(self, approvals: Any) -> None:
        for item in approvals:
            what = (f"tool '{item['tool_id']}' {json.dumps(item['arguments'], ensure_ascii=False)}"
                    if item["target"] == "tool" else f"input {json.dumps(item['input'], ensure_ascii=False)}")
            self.console.print(f"waiting: {item['run_id']} · task {item['task_id']} · node '{item['node_id']}' · "
                               f"{what} · fingerprint {item['fingerprint'][:12]}", markup=False, highlight=False)
            if item.get("prompt"):
                self.console.print(f"  {item['prompt']}", markup=False, highlight=False)

    def tokens(self) -> tuple[int, int]:
        """Tokens of the last turn and of the whole session."""
        turns = self.session.turns
        return (turns[-1].tokens if turns else 0), sum(t.tokens for t in turns)

    # ---- commands -----------------------------------------------------------------------------------------

    def cmd_help(self, arg: str) -> None:
        """/help."""
        profile = self.profile
        self.console.print(f"profile {profile.id}: a line is {{\"{profile.input_field}\": LINE}}"
                           + (f", attachments under '{profile.attach_field}'" if profile.attach_field else "")
                           + (f" — {profile.description}" if profile.description else ""), markup=False)
        self.console.print("Esc then Enter starts a new line; Tab completes; → takes the suggestion.", markup=False)
        width = max(len(s.usage) for s in COMMANDS.values())
        for spec in COMMANDS.values():
            self.console.print(f"  {spec.usage:<{width}}  {spec.help}", markup=False, highlight=False)
        for name, command in sorted(self.plugin_commands().items()):
            self.console.print(f"  {'/' + name:<{width}}  {command.get_short_help_str()} (plugin)", markup=False)

    def cmd_attach(self, arg: str) -> None:
        """/attach FILE."""
        if self.profile.attach_field is None:
            raise InvalidInput(f"profile '{self.profile.id}' takes no attachments (it has no attach_field)")
        if not arg:
            names = ", ".join(a["name"] for a in self.session.attachments) or "none"
            self.console.print(f"attached for the next input: {names}", markup=False)
            return
        file = Path(os.path.expanduser(_unquoted(arg)))
        try:
            attachment = self.session.attach(file)
        except OSError as exc:
            raise InvalidInput(f"cannot attach {file}: {exc.strerror or exc}") from None
        pending = len(self.session.attachments)
        self.console.print(f"attached {attachment['name']} ({len(attachment['content']):,} characters); "
                           f"{pending} file{'s' if pending != 1 else ''} go{'es' if pending == 1 else ''} with the "
                           "next input", markup=False)

    def cmd_history(self, arg: str) -> None:
        """/history [all]."""
        turns = self.session.turns
        if not turns:
            self.console.print("no turns yet", markup=False)
            return
        from rich.table import Table  # noqa: PLC0415 - rich tables load when one is shown

        first = 0 if arg == "all" else max(0, len(turns) - SHOWN_TURNS)
        table = Table(show_edge=False, pad_edge=False)
        for column in ("#", "run", "status", "input", "summary"):
            table.add_column(column, overflow="fold")
        for number, turn in enumerate(turns[first:], start=first + 1):
            table.add_row(str(number), turn.run_id, turn.status, self._describe(turn.input), turn.summary)
        self.console.print(table)
        if first:
            self.console.print(f"({first} earlier turn{'s' if first != 1 else ''}: /history all)", markup=False)

    def _describe(self, payload: Any) -> str:
        if isinstance(payload, Mapping) and isinstance(payload.get(self.profile.input_field), str):
            attached = payload.get(self.profile.attach_field or "", [])
            names = f" [+ {', '.join(a['name'] for a in attached)}]" if attached else ""
            return str(payload[self.profile.input_field]) + names
        return json.dumps(payload, ensure_ascii=False)

    def _last(self) -> Turn:
        if not self.session.turns:
            raise InvalidInput("there is no earlier input in this session yet")
        return self.session.turns[-1]

    def cmd_retry(self, arg: str) -> None:
        """/retry."""
        self.run_input(self._last().input)

    def cmd_edit_last(self, arg: str) -> None:
        """/edit-last."""
        last = self._last().input
        field = self.profile.input_field
        if not (isinstance(last, Mapping) and isinstance(last.get(field), str)):
            raise InvalidInput(f"the last input has no text field '{field}' to edit")
        edited = self._edit(last[field])
        if edited is None or not edited.strip():
            self.console.print("nothing to run: the edited input is empty", markup=False)
            return
        edited = edited.strip("\n")
        self.console.print(f"running: {edited}", markup=False, highlight=False)
        self.run_input({**last, field: edited})

    def _edit(self, text: str) -> str | None:
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if editor:
            return _in_editor(editor, text)
        edited = self.reader.edit(self.profile.prompt, text) if self.reader is not None else None
        if edited is None:
            raise InvalidInput("set VISUAL or EDITOR to edit the last input (in place only on a terminal)")
        return edited

    def cmd_status(self, arg: str) -> None:
        """/status."""
        last, total = self.tokens()
        counts = self.engine.queue_status().counts
        rows = [("profile", self.profile.id), ("project", str(self.project_dir(self.profile))),
                ("session", f"{self.session.path} ({len(self.session.turns)} turns)"),
                ("last run", f"{self._last().run_id}: {self.last_status}" if self.session.turns else "-"),
                ("tokens", f"{last} last turn, {total} this session"),
                ("attached", ", ".join(a["name"] for a in self.session.attachments) or "none"),
                ("queue", ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "empty")]
        for label, value in rows:
            self.console.print(f"{label + ':':<10}{value}", markup=False, highlight=False)

    def cmd_inspect(self, arg: str) -> None:
        """/inspect [TASK|#TURN] [NODE]."""
        task, *node = arg.split() or [""]
        if len(node) > 1:
            raise InvalidInput(f"usage: {COMMANDS['inspect'].usage}")
        view, chosen = view_of(self.engine.inspector, self._task_of(task) if task else self._last().run_id)
        if node:
            print_stage(view, node[0], None if chosen == view.summary.run_id else chosen, console=self.console)
        else:
            print_run(view, chosen, console=self.console)

    def _task_of(self, word: str) -> str:
        """A run or task id, or ``#N`` (or ``N``): the run of turn N of this session."""
        number = word.removeprefix("#")
        if number.isdigit():
            index = int(number)
            if not 1 <= index <= len(self.session.turns):
                raise InvalidInput(f"there is no turn {index}; this session has {len(self.session.turns)}")
            return self.session.turns[index - 1].run_id
        return word

    def cmd_approvals(self, arg: str) -> None:
        """/approvals."""
        waiting = self.engine.waiting()
        if not waiting:
            self.console.print("no run waits for an approval", markup=False)
        for run in waiting:
            self._show_pending(run["approvals"])

    def cmd_approve(self, arg: str) -> None:
        """/approve [NODE]."""
        words = arg.split(maxsplit=1)
        self._decide(words[0] if words else None, approve=True, reason=None)

    def cmd_reject(self, arg: str) -> None:
        """/reject [NODE] REASON."""
        word, _, rest = arg.partition(" ")
        node, reason = (word, rest.strip()) if word in self.node_ids() else (None, arg)
        if not reason:
            raise InvalidInput(f"usage: {COMMANDS['reject'].usage}")
        self._decide(node, approve=False, reason=reason)

    def _decide(self, node: str | None, *, approve: bool, reason: str | None) -> None:
        """Decide the approval shown for the last waiting run (the only one at ``node``), then show the result.

        The decision names the fingerprint that was shown, so it approves exactly what the person saw.
        """
        waiting = self.engine.waiting()
        last = self.session.turns[-1].run_id if self.session.turns else None
        runs = [run for run in waiting if run["run_id"] == last] or waiting
        pending = [item for run in runs[:1] for item in run["approvals"] if node is None or item["node_id"] == node]
        if not pending:
            raise InvalidInput("no run waits for an approval" + (f" at '{node}'" if node else ""))
        if len(pending) > 1:
            raise InvalidInput(f"{len(pending)} approvals wait ({', '.join(p['node_id'] for p in pending)}): "
                               "name the node")
        item = pending[0]
        result = self.engine.approve(item["run_id"], item["node_id"], approve=approve, reason=reason,
                                     fingerprint=item["fingerprint"], task_id=item["task_id"],
                                     by=os.environ.get("USER") or None)
        turn = next((t for t in reversed(self.session.turns) if t.run_id == item["run_id"]), None)
        self._record(turn.input if turn is not None else {"approved": item["node_id"]}, result)
        self.show(result)

    def cmd_queue(self, arg: str) -> None:
        """/queue TEXT."""
        if not arg:
            raise InvalidInput(f"usage: {COMMANDS['queue'].usage}")
        payload = self.payload(arg)
        run_id = self.engine.enqueue(payload)
        self._queued[run_id] = payload
        waiting = self.engine.queue_status().counts.get("queued", 0)
        self.console.print(f"queued {run_id} ({waiting} waiting; /run-queue runs them)", markup=False)

    def cmd_run_queue(self, arg: str) -> None:
        """/run-queue."""
        if not self.engine.queue_status().counts.get("queued"):
            self.console.print("the queue is empty (/queue TEXT adds an input)", markup=False)
            return

        def finished(result: TaskResult) -> None:
            self._record(self._queued.pop(result.task_id, None), result)
            self.console.print(f"#{len(self.session.turns)} {result.status} · {result.task_id} · "
                               f"{self.session.turns[-1].summary}", markup=False, highlight=False)

        results = self.engine.run_queued(progress=finished)
        succeeded = sum(str(r.status) == "success" for r in results)
        self.console.print(f"ran {len(results)} queued input{'s' if len(results) != 1 else ''}: {succeeded} "
                           f"succeeded", markup=False)

    def cmd_queue_status(self, arg: str) -> None:
        """/queue-status."""
        status = self.engine.queue_status()
        counts = ", ".join(f"{state} {n}" for state, n in status.counts.items())
        limit = status.max_queue_size if status.max_queue_size is not None else "unbounded"
        self.console.print(f"{counts} (max_queue_size {limit})", markup=False)
        for task, state in status.tasks.items():
            self.console.print(f"  {task}: {state}", markup=False)

    def cmd_profile(self, arg: str) -> None:
        """/profile [NAME]."""
        if not arg:
            for profile in self.profiles.values():
                mark = "*" if profile.id == self.profile.id else " "
                about = f" — {profile.description}" if profile.description else ""
                self.console.print(f"{mark} {profile.id} ({self.project_dir(profile)}){about}", markup=False)
            return
        self.open(arg)
        self.console.print(f"profile {self.profile.id} · {self.project_dir(self.profile)} · "
                           f"{len(self.session.turns)} turns in its session", markup=False)

    def cmd_quit(self, arg: str) -> None:
        """/quit."""
        raise _Quit

    def completions(self, command: str) -> Iterator[str]:
        """What an argument of ``/command`` may be: profile ids, run ids and turn numbers."""
        if command == "profile":
            yield from self.profiles
        elif command == "inspect":
            for number, turn in reversed(list(enumerate(self.session.turns, start=1))[-SHOWN_TURNS:]):
                yield f"#{number}"
                yield turn.run_id

    def node_ids(self) -> Sequence[str]:
        """The workflow's node ids (for /inspect TASK NODE)."""
        return self.engine.dag.order if self._engine is not None else ()


def _suggestion(name: str, known: Sequence[str] | Mapping[str, Any], *, prefix: str = "") -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def _unquoted(text: str) -> str:
    """A file name as typed: shell-quoted (``"my notes.txt"``) or as is."""
    try:
        words = shlex.split(text)
    except ValueError:
        return text
    return words[0] if len(words) == 1 else text


def _in_editor(editor: str, text: str) -> str | None:
    """``text`` after the user edited it in ``editor`` (``None`` when the editor failed)."""
    with tempfile.TemporaryDirectory(prefix="agent-engine-edit-") as folder:
        file = Path(folder) / "input.md"
        file.write_text(text + "\n", encoding="utf-8")
        try:
            done = subprocess.run([*shlex.split(editor), str(file)], check=False)
        except OSError as exc:
            raise InvalidInput(f"cannot start the editor '{editor}': {exc.strerror or exc}") from None
        if done.returncode != 0:
            raise InvalidInput(f"the editor '{editor}' exited with status {done.returncode}; nothing was run")
        return file.read_text(encoding="utf-8")


def _invoke(command: click.Command, name: str, arg: str) -> None:
    """Run a plugin's click command with the words of ``arg``; its usage errors and exits end it, not the REPL."""
    try:
        parent = click.get_current_context(silent=True)  # the repl command's: --debug reaches the command too
        with command.make_context(f"/{name}", shlex.split(arg), parent=parent) as context:
            command.invoke(context)
    except click.ClickException as exc:
        raise InvalidInput(exc.format_message()) from None
    except click.exceptions.Exit as exc:
        if exc.exit_code:
            raise InvalidInput(f"/{name} exited with status {exc.exit_code}") from None
    except SystemExit:
        pass  # the command's guard (plugin_commands) has said why it stopped


def render(console: Console, output: Any, how: str) -> None:
    """Show ``output`` as a profile's ``render`` says: json, markdown, or the value at a dotted field path."""
    if how == "json":
        console.print_json(json.dumps(output, ensure_ascii=False))
        return
    if how == "markdown":
        from rich.markdown import Markdown  # noqa: PLC0415 - rich's Markdown loads when a result is shown

        console.print(Markdown(output if isinstance(output, str) else _as_markdown(output)))
        return
    value = output
    for part in how.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            console.print(f"(the result has no field '{how}'; it is shown whole)", markup=False)
            render(console, output, "json")
            return
    if isinstance(value, str):
        console.print(value, markup=False, highlight=False)
    else:
        render(console, value, "json")


def _as_markdown(value: Any) -> str:
    """An object as a list of its fields, a list as a list of its items; nested values inline."""
    def inline(item: Any) -> str:
        if isinstance(item, list) and all(isinstance(i, str | int | float) for i in item):
            return ", ".join(str(i) for i in item) or "(none)"
        return item if isinstance(item, str) else f"`{json.dumps(item, ensure_ascii=False)}`"

    if isinstance(value, Mapping):
        return "\n".join(f"- **{key}**: {inline(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "\n".join(f"- {inline(item)}" for item in value)
    return inline(value)

