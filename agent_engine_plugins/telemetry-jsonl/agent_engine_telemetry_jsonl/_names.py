"""File names of a run's trace: derived from the run id, confined to the trace directory, rotation-aware.

A run id is caller-chosen text (``engine.run(..., run_id="../../x")`` is legal), so it never becomes a path
as is. The stem keeps the id when it is short and made only of ``[A-Za-z0-9_-]``; anything else is replaced by
``_`` and a hash of the original id is appended after a ``+`` (a character no kept id contains), so the stem
is a plain file name, and two different run ids get two different files. The stem never contains a dot,
which keeps ``<stem>.jsonl`` (the active file) apart from ``<stem>.<n>.jsonl`` (rotated files) for every id.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["FILE_NAME", "active_file", "parse_file_name", "rotated_file", "trace_stem"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_KEPT = 100
"""Longest stem kept verbatim; longer ids are cut and hashed (file names are limited to 255 bytes)."""
_HASH_CHARS = 24
"""96 bits of SHA-256: two run ids sharing a file would take deliberate, expensive search."""

FILE_NAME = re.compile(r"(?P<stem>[A-Za-z0-9_+-]+)(?:\.(?P<number>[1-9][0-9]*))?\.jsonl")
"""``<stem>.jsonl`` (active) or ``<stem>.<n>.jsonl`` (rotated, ``n`` = 1 for the most recent)."""


def trace_stem(run_id: str) -> str:
    """The file stem for ``run_id``: the id itself when it is safe, else a sanitised prefix plus a hash."""
    stem = _UNSAFE.sub("_", run_id)
    if stem == run_id and 0 < len(stem) <= _MAX_KEPT:
        return stem
    digest = hashlib.sha256(run_id.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    return f"{stem[:_MAX_KEPT]}+{digest}"


def active_file(directory: Path, run_id: str) -> Path:
    """The file a run's events are appended to."""
    return directory / f"{trace_stem(run_id)}.jsonl"


def rotated_file(active: Path, number: int) -> Path:
    """The ``number``-th rotated predecessor of ``active`` (1 is the most recent)."""
    return active.with_name(f"{active.name[: -len('.jsonl')]}.{number}.jsonl")


def parse_file_name(name: str) -> tuple[str, int] | None:
    """``(stem, number)`` for a trace file name (number 0 for the active file), ``None`` for other files."""
    match = FILE_NAME.fullmatch(name)
    if match is None:
        return None
    return match["stem"], int(match["number"] or 0)
