"""The ``sqlite`` run journal: durable runs' stages in ``journal.db`` beside the run store's ``runs.db``.

Why it is built this way:

* **Its own file** (``journal.db`` in the run database's folder): the journal is written on the run's own thread,
  a transaction per stage, while the run store is written by the engine's writer thread; in one file each would
  wait for the other's write lock.
* **Two tables**: ``journal_runs`` (one row per journaled run: header, status, detail, last change) and
  ``journal_entries`` (the appended entries, in ``seq`` order). ``begin`` replaces a run's row and drops its
  entries; ``finish`` drops both.
* **One transaction per call** (``BEGIN IMMEDIATE`` .. ``COMMIT``, or the one statement of a stage's append,
  which SQLite commits as its own transaction), in WAL mode with ``synchronous=NORMAL``: a
  committed stage survives the process being killed at any moment (what a resume needs); a power cut may lose
  the last commits, whose stages then run again on resume.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_engine_core.journal import JournalEntry, JournalRun, JournalSummary
from agent_engine_core.runs import RunStoreSetup

from agent_engine_memory_sqlite._backend import layout_of, open_wal
from agent_engine_memory_sqlite._runs import runs_database_path

__all__ = ["JOURNAL_FILE", "SqliteRunJournal"]

JOURNAL_FILE = "journal.db"
"""The journal's file name, in the folder of the run database."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS journal_runs (
        project_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        status TEXT NOT NULL,
        detail TEXT NOT NULL,
        header TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (project_id, run_id)
    )""",
    """CREATE TABLE IF NOT EXISTS journal_entries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS journal_of_run ON journal_entries (project_id, run_id)",
)
LAYOUT = 1
"""The tables' layout, kept in the database's ``user_version``; another layout is refused, not mixed."""


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the journal in WAL mode with its tables; ``ValueError`` naming the path."""
    connection: sqlite3.Connection | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = open_wal(path, "NORMAL")
        found = layout_of(connection, "journal_runs", _SCHEMA, LAYOUT)
    except (OSError, sqlite3.Error) as exc:
        if connection is not None:
            connection.close()
        raise ValueError(f"cannot use {path} as the SQLite run journal ({exc}): it must be a SQLite database (or "
                         "not exist yet) in a writable folder on a local disk") from exc
    if found != LAYOUT:
        connection.close()
        raise ValueError(f"{path} holds a run journal in layout {found}, and this agent-engine-memory-sqlite "
                         f"writes layout {LAYOUT}: finish its runs with the version that wrote it, or move it away")
    return connection


class SqliteRunJournal:
    """One project's durable runs in ``journal.db`` (the ``sqlite`` run journal; see the module docstring)."""

    def __init__(self, setup: RunStoreSetup) -> None:
        self.path = runs_database_path(setup).with_name(JOURNAL_FILE)
        self._project = setup.project_id
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._connection = _connect(self.path)
        self._open = True

    def begin(self, run_id: str, header_json: str) -> None:
        """Start the run's journal, dropping what was journaled under ``run_id`` before."""
        self._transaction((
            ("DELETE FROM journal_entries WHERE project_id = ? AND run_id = ?", (self._project, run_id)),
            ("INSERT OR REPLACE INTO journal_runs VALUES (?, ?, 'running', '[]', ?, ?)",
             (self._project, run_id, header_json, time.time())),
        ))

    def append(self, run_id: str, entries: Sequence[JournalEntry]) -> None:
        """Append ``entries`` in one transaction."""
        self._transaction([
            ("INSERT INTO journal_entries (project_id, run_id, kind, body) VALUES (?, ?, ?, ?)",
             (self._project, run_id, kind, body)) for kind, body in entries
        ])

    def set_status(self, run_id: str, status: str, detail_json: str = "[]") -> None:
        """Record the run's status and detail."""
        self._transaction((("UPDATE journal_runs SET status = ?, detail = ?, updated_at = ? WHERE project_id = ? "
                            "AND run_id = ?", (status, detail_json, time.time(), self._project, run_id)),))

    def finish(self, run_id: str) -> None:
        """Drop the run's journal."""
        self._transaction((
            ("DELETE FROM journal_entries WHERE project_id = ? AND run_id = ?", (self._project, run_id)),
            ("DELETE FROM journal_runs WHERE project_id = ? AND run_id = ?", (self._project, run_id)),
        ))

    def read(self, run_id: str) -> JournalRun | None:
        """The run's journal (one read transaction: the header and the entries agree), or ``None``."""
        with self._lock:
            self._check_open()
            connection = self._connection
            connection.execute("BEGIN")
            try:
                row = connection.execute("SELECT status, detail, updated_at, header FROM journal_runs WHERE "
                                         "project_id = ? AND run_id = ?", (self._project, run_id)).fetchone()
                entries = connection.execute("SELECT kind, body FROM journal_entries WHERE project_id = ? AND "
                                             "run_id = ? ORDER BY seq", (self._project, run_id)).fetchall()
            finally:
                connection.execute("COMMIT")
        if row is None:
            return None
        return JournalRun(JournalSummary(run_id, row[0], row[1], row[2]), row[3],
                          tuple((kind, body) for kind, body in entries))

    def runs(self, *, status: str | None = None) -> list[JournalSummary]:
        """Journaled runs, oldest change first."""
        sql = "SELECT run_id, status, detail, updated_at FROM journal_runs WHERE project_id = ?"
        args: list[Any] = [self._project]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        with self._lock:
            self._check_open()
            rows = self._connection.execute(sql + " ORDER BY updated_at, run_id", args).fetchall()
        return [JournalSummary(*row) for row in rows]

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self._lock:
            if self._open:
                self._open = False
                self._connection.close()

    def _transaction(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self._lock:
            self._check_open()
            connection = self._connection
            if len(statements) == 1:  # one statement is a transaction of its own (autocommit): a stage's append
                connection.execute(*statements[0])
                return
            connection.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    connection.execute(sql, args)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise

    def _check_open(self) -> None:
        if not self._open:
            raise ValueError(f"the sqlite run journal ({self.path}) is closed")
        if os.getpid() != self._pid:  # SQLite forbids carrying a connection across fork()
            raise ValueError(f"the sqlite run journal was opened by process {self._pid} before it forked this one")
