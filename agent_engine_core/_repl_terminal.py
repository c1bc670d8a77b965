"""Where the REPL's lines come from: a prompt_toolkit session on a terminal, or the lines of a pipe.

On a terminal: a prompt with the line history of every earlier session (under the XDG data dir), completion
of commands, file names, profiles, runs and node ids, suggestions from the history (→ takes one), Esc+Enter
for a new line within an input, and a bottom toolbar with the profile, the last status and the tokens.
From a pipe (``agent-engine repl DIR < lines.txt``) the lines are read as they come and echoed after the
prompt, so the output reads as the session would have on a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

import click
from prompt_toolkit import PromptSession
from prompt_toolkit.application.current import get_app_session
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

from agent_engine_core._repl import COMMANDS
from agent_engine_core._repl_session import history_file

if TYPE_CHECKING:
    from agent_engine_core._repl import Repl

__all__ = ["PipeReader", "TerminalReader", "interactive"]


def interactive() -> bool:
    """A person at a terminal, or a prompt_toolkit session whose input was set (a test's pipe input)."""
    return sys.stdin.isatty() or getattr(get_app_session(), "_input", None) is not None


class PipeReader:
    """Lines from standard input, each echoed after the prompt."""

    terminal = False

    def read(self, prompt: str) -> str:
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        line = line.rstrip("\n")
        click.echo(f"{prompt}{line}")
        return line

    def edit(self, prompt: str, text: str) -> str | None:
        return None


class TerminalReader:
    """A prompt_toolkit ``PromptSession``: history, completion, suggestions, Esc+Enter, the toolbar."""

    terminal = True

    def __init__(self, shell: Repl) -> None:
        bindings = KeyBindings()

        @bindings.add("escape", "enter")
        def _newline(event: KeyPressEvent) -> None:
            event.current_buffer.insert_text("\n")

        self._shell = shell
        self._session: PromptSession[str] = PromptSession(
            history=_history(shell), auto_suggest=AutoSuggestFromHistory(), completer=_Completer(shell),
            complete_while_typing=True, key_bindings=bindings, bottom_toolbar=self._toolbar,
        )

    def _toolbar(self) -> str:
        shell = self._shell
        last, total = shell.tokens()
        attached = len(shell.session.attachments)
        return (f" {shell.profile.id} · last: {shell.last_status} · tokens: {last} last, {total} session · "
                f"{len(shell.session.turns)} turns" + (f" · {attached} attached" if attached else "")
                + " · /help")

    def read(self, prompt: str) -> str:
        return self._session.prompt(prompt)

    def edit(self, prompt: str, text: str) -> str | None:
        return self._session.prompt(prompt, default=text)


def _history(shell: Repl) -> History:
    """The line history file (in memory, with a warning, when its folder cannot be made)."""
    path = history_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError as exc:
        shell.console.print(f"warning: the line history cannot be kept in {path} ({exc.strerror or exc}); "
                            "it lasts this session only", markup=False)
        return InMemoryHistory()
    return FileHistory(str(path))


class _Completer(Completer):
    """Commands after ``/``; then files for /attach, profiles for /profile, runs and node ids for /inspect."""

    def __init__(self, shell: Repl) -> None:
        self._shell = shell
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        name, space, rest = text[1:].partition(" ")
        if not space:
            for command in [*COMMANDS, *self._shell.plugin_commands()]:
                if command.startswith(name):
                    yield Completion(command, start_position=-len(name))
            return
        if name == "attach":
            yield from self._paths.get_completions(Document(rest, len(rest)), event)
            return
        *before, word = rest.split(" ")
        if len(before) > 1:
            return
        choices = (self._shell.node_ids() if name == "inspect" else ()) if before else self._shell.completions(name)
        for choice in choices:
            if choice.startswith(word):
                yield Completion(choice, start_position=-len(word))
