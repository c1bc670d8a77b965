"""A REPL session kept between launches: its turns and the attachments waiting for the next input.

The session is a JSON file under the project's ``.agent_engine/sessions/`` (one per profile unless the user
names another), rewritten atomically after every change, so a crash or a closed terminal loses at most the
turn that was running. A file that cannot be read is kept aside (``.broken``) and a new session starts,
with a warning: a damaged session never stops the REPL from starting. The line history of prompt_toolkit is
another matter: it is the user's, across projects, under the XDG data dir.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MAX_ATTACHMENT_BYTES", "Session", "Turn", "history_file", "sessions_dir"]

FORMAT = 1
MAX_ATTACHMENT_BYTES = 1024 * 1024
"""The largest file /attach reads (the content travels in the task input, the history and the run store)."""
SUMMARY_CHARS = 100


def sessions_dir(config_dir: Path) -> Path:
    """Where the sessions of the project in ``config_dir`` are kept."""
    return config_dir / ".agent_engine" / "sessions"


def history_file() -> Path:
    """The REPL's line history: ``$XDG_DATA_HOME/agent-engine/repl_history`` (``~/.local/share`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "agent-engine" / "repl_history"


@dataclass(slots=True)
class Turn:
    """One run of the session: what was sent, how it ended, and a line that says what came out."""

    input: Any
    run_id: str
    status: str
    summary: str
    output: Any = None
    tokens: int = 0
    at: str = ""

    @classmethod
    def of(cls, payload: Any, run_id: str, status: str, output: Any, error: Mapping[str, Any] | None,
           tokens: int) -> Turn:
        """The turn of a finished run (``error``: the result's, summarised instead of the output)."""
        summary = f"[{error['kind']}] at '{error['node_id']}': {error['message']}" if error else summarize(output)
        return cls(payload, run_id, status, _cut(summary), output, tokens,
                   dt.datetime.now().astimezone().isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as the session file keeps it."""
        return {"input": self.input, "run_id": self.run_id, "status": self.status, "summary": self.summary,
                "output": self.output, "tokens": self.tokens, "at": self.at}


def summarize(output: Any) -> str:
    """One line about a result: an object's scalar fields as ``key=value``, anything else as compact JSON."""
    if isinstance(output, Mapping):
        scalars = [f"{k}={v}" for k, v in output.items() if isinstance(v, str | int | float | bool) and "\n" not in
                   str(v)]
        if scalars:
            return " ".join(scalars)
    return json.dumps(output, ensure_ascii=False)


def _cut(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


@dataclass(slots=True)
class Session:
    """The turns so far and the pending attachments, saved to ``path`` after each change."""

    path: Path
    turns: list[Turn] = field(default_factory=list)
    attachments: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path) -> tuple[Session, str | None]:
        """The session saved at ``path`` (a new one if there is none) and a warning when the file was unusable."""
        if not path.exists():
            return cls(path), None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            turns = [Turn(**turn) for turn in data["turns"]]
            attachments = [{"name": str(a["name"]), "content": str(a["content"])} for a in data["attachments"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            kept = path.with_name(path.name + ".broken")
            with contextlib.suppress(OSError):
                path.replace(kept)
            return cls(path), f"the session file {path} could not be read ({exc}); it was kept as {kept.name} " \
                              "and a new session starts"
        return cls(path, turns, attachments), None

    def save(self) -> None:
        """Write the session atomically (a temporary file renamed over the old one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"format": FORMAT, "turns": [t.to_dict() for t in self.turns], "attachments": self.attachments}
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self.path.parent, prefix=f".{self.path.name}.",
                                         delete=False) as handle:
            json.dump(document, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.replace(handle.name, self.path)

    def attach(self, file: Path) -> dict[str, str]:
        """Read ``file`` (UTF-8, at most ``MAX_ATTACHMENT_BYTES``) into the pending attachments."""
        size = file.stat().st_size
        if size > MAX_ATTACHMENT_BYTES:
            raise ValueError(f"{file} is {size:,} bytes; /attach takes files of at most {MAX_ATTACHMENT_BYTES:,}")
        try:
            content = file.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{file} is not UTF-8 text (invalid byte at offset {exc.start})") from None
        attachment = {"name": file.name, "content": content}
        self.attachments.append(attachment)
        self.save()
        return attachment

    def take_attachments(self) -> list[dict[str, str]]:
        """The pending attachments, which go with the input being sent and are pending no more."""
        taken, self.attachments = self.attachments, []
        if taken:
            self.save()
        return taken

    def record(self, turn: Turn) -> None:
        """Add a finished turn."""
        self.turns.append(turn)
        self.save()
