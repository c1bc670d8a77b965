"""``StageFailed``: how the parts of a stage (validation, handler, agent, tools) report a failure to it."""

from __future__ import annotations

from typing import Any

from agent_engine_core.records import ErrorKind

__all__ = ["StageFailed"]


class StageFailed(Exception):  # internal control flow: run_stage turns it into the record's StageError
    """The stage fails with ``kind``, ``message`` and JSON ``details`` (and the traceback of a handler bug)."""

    def __init__(self, kind: ErrorKind, message: str, details: Any = None, tb: str | None = None) -> None:
        self.error = (kind, message, details, tb)
        super().__init__(message)
