"""Read trace files back: the events of a run, as dicts, in the order they were written.

``read_trace`` reads a run's rotated files oldest first, then its active file. Only the very last line of a
run can be torn (the process died mid-write); it is skipped with a ``TornLineWarning``. Damage anywhere else is
not a crash artefact, so it raises instead of being skipped silently. Only the file format lives here: the
core rebuilds the run's ``Trace`` (and its digest) from the events, ``Trace.from_events(read_trace(...))``.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agent_engine_telemetry_jsonl._names import parse_file_name, trace_stem

__all__ = ["TornLineWarning", "read_trace"]

Events = list[dict[str, Any]]

class TornLineWarning(UserWarning):
    """A trace file ends in an unfinished line (the writer stopped mid-line); the line was skipped."""


def read_trace(path_or_dir: str | os.PathLike[str], run_id: str | None = None) -> Events:
    """The recorded events, as dicts, in the order they were written.

    Args:
        path_or_dir: a trace folder, or any file of one run (active or rotated: the whole run is read).
        run_id: with a folder, read only this run's files; with a file, keep only this run's events.
            Without it, a folder gives every run's events, run after run (by file name).

    Raises:
        FileNotFoundError: nothing at ``path_or_dir``, or no file for ``run_id`` in the folder.
        ValueError: a line other than a run's last one is not a JSON event (``file:line`` in the message).
    """
    path = Path(path_or_dir)
    if path.is_dir():
        groups = _runs_in(path)
        if run_id is not None:
            stem = trace_stem(run_id)
            if stem not in groups:
                raise FileNotFoundError(f"no trace of run {run_id!r} in {path} (looked for {stem}.jsonl)")
            groups = {stem: groups[stem]}
        selected = [groups[stem] for stem in sorted(groups)]
    elif path.is_file():
        selected = [_run_of(path)]
    else:
        raise FileNotFoundError(f"no trace file or folder at {path}")
    events: Events = []
    torn: list[str] = []
    for files in selected:
        for position, file in enumerate(files):
            events.extend(_read_file(file, last=position == len(files) - 1, torn=torn))
    for message in torn:
        warnings.warn(message, TornLineWarning, stacklevel=2)
    if run_id is not None:
        events = [event for event in events if event.get("run_id") == run_id]
    return events


def _runs_in(directory: Path) -> dict[str, list[Path]]:
    """Trace files by run stem, each list oldest first (highest rotation number first, active last)."""
    found: dict[str, list[tuple[int, Path]]] = {}
    for entry in directory.iterdir():
        parsed = parse_file_name(entry.name)
        if parsed is not None and entry.is_file():
            found.setdefault(parsed[0], []).append((parsed[1], entry))
    return {stem: _oldest_first(files) for stem, files in found.items()}


def _oldest_first(files: list[tuple[int, Path]]) -> list[Path]:
    """Rotated files by descending number, then the active one (number 0)."""
    return [path for _, path in sorted(files, key=lambda item: (item[0] == 0, -item[0]))]


def _run_of(file: Path) -> list[Path]:
    """All files of the run ``file`` belongs to (just ``file`` when its name is not a trace file's)."""
    parsed = parse_file_name(file.name)
    if parsed is None:
        return [file]
    return _runs_in(file.parent)[parsed[0]]


def _read_file(file: Path, *, last: bool, torn: list[str]) -> Iterator[dict[str, Any]]:
    """The events of one file; a torn final line of a run's ``last`` file is skipped and noted in ``torn``."""
    with file.open("rb") as handle:
        lines = list(handle)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            event = json.loads(raw)
        except ValueError as exc:
            if last and number == len(lines) and not raw.endswith(b"\n"):
                torn.append(f"{file}:{number}: skipped a torn last line ({len(raw)} bytes)")
                return
            raise ValueError(f"{file}:{number}: not a JSON event: {exc}") from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ValueError(f"{file}:{number}: not an event (a JSON object with a 'type')")
        yield event
