"""The ``sqlite`` run store: every finished run of a project in one SQLite database (WAL, ``synchronous=NORMAL``).

Why it is built this way:

* **Its own file** (``<config dir>/.agent_engine/runs.db``), not memory.db: runs are written in batches by the
  engine's writer thread and read by the inspector in other processes, and neither should queue behind the
  other's memory writes.
* **One table, ``runs``**: the summary columns a listing needs, the document as TEXT (stored as given, never
  parsed), and ``seq``, an ``AUTOINCREMENT`` rowid that is the write order. Writing a run id again
  (``INSERT OR REPLACE``) deletes the old row and inserts a new one, so the run counts as written now.
  Retention deletes the lowest ``seq`` beyond ``max_runs``.
* **One transaction per ``write(runs)``**: ``BEGIN IMMEDIATE``, every row, the retention cut, ``COMMIT``. The
  documents are composed before the transaction starts, so a document that cannot be composed leaves
  nothing, and the write lock is held only for the inserts.
* **``synchronous=NORMAL``** (not memory's ``FULL``): in WAL mode a committed transaction survives the
  process being killed at any moment, and the store stays consistent through a power cut, which may lose the
  last commits. Runs are an after-the-fact record, written off the run's path; a ``fsync`` per batch would
  cost every run for a guarantee only power loss tests.
* **Two connections, each behind a lock**: one for the writer, one for readers, so a listing never waits for
  a commit's sync. WAL lets other processes read and write the same file (the busy timeout absorbs their
  write locks); a network file system may not host it.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_engine_core.memory import check_limit
from agent_engine_core.runs import RunStoreSetup, RunSummary, StoredRun, run_store_path

from agent_engine_memory_sqlite._backend import layout_of, open_wal

__all__ = ["DEFAULT_MAX_RUNS", "DEFAULT_RUNS_PATH", "SqliteRunStore", "runs_database_path"]

DEFAULT_RUNS_PATH = ".agent_engine/runs.db"
"""The database file, relative to the config dir, when ``runs: {config: {path: ...}}`` names none."""

DEFAULT_MAX_RUNS = 10_000
"""Runs kept when memory.yaml's ``runs: {retention: {max_items: ...}}`` sets no bound."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        duration_s REAL NOT NULL,
        nodes INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        origin TEXT,
        document TEXT NOT NULL,
        UNIQUE (project_id, run_id)
    )""",
    "CREATE INDEX IF NOT EXISTS runs_recent ON runs (project_id, started_at, run_id)",
    "CREATE INDEX IF NOT EXISTS runs_written ON runs (project_id)",  # the rowid (seq) is the index's last key
)
LAYOUT = 1
"""The ``runs`` table's layout, kept in the database's ``user_version``; another layout is refused, not mixed."""
_SUMMARY = "run_id, status, started_at, duration_s, nodes, tokens, origin"
_COLUMNS = 9
ROWS_PER_INSERT = 100
"""Runs per ``INSERT`` statement: 900 parameters, under SQLite's oldest limit of 999 per statement."""
_RETAIN = ("DELETE FROM runs WHERE project_id = ? AND seq <= (SELECT seq FROM runs WHERE project_id = ? "
           "ORDER BY seq DESC LIMIT 1 OFFSET ?)")


@functools.cache
def _insert(rows: int) -> str:
    """One statement inserting ``rows`` runs (``INSERT ... VALUES (...), (...)``).

    A batch goes in with a statement per ``ROWS_PER_INSERT`` runs, its values bound in C: ``executemany`` would
    release and take back the GIL once per row, and each taking back waits for the engine's thread to yield it
    (a switch interval, 5 ms): a batch of 200 runs took 0.8 s beside a busy engine. Binding the values directly
    costs a third of encoding them into one JSON array for ``json_each``, which also copied every document.
    """
    values = ", ".join(["(" + ", ".join("?" * _COLUMNS) + ")"] * rows)
    return f"INSERT OR REPLACE INTO runs (project_id, {_SUMMARY}, document) VALUES {values}"


def runs_database_path(setup: RunStoreSetup) -> Path:
    """The absolute database file: ``config.path`` from the config dir, else the default (``run_store_path``)."""
    return run_store_path(setup, backend="sqlite", default=DEFAULT_RUNS_PATH, kind="database file")


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database in WAL mode with the table; ``ValueError`` naming the path."""
    if path.is_dir():
        raise ValueError(f"runs: config.path {str(path)!r} is a folder; point it at the database file (runs.db)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the folder of the SQLite run database {path}: {exc.strerror or exc}") from exc
    connection: sqlite3.Connection | None = None
    try:
        connection = open_wal(path, "NORMAL")
        found = layout_of(connection, "runs", _SCHEMA, LAYOUT)
    except sqlite3.Error as exc:
        if connection is not None:
            connection.close()
        raise ValueError(f"cannot use {path} as the SQLite run database ({exc}): it must be a SQLite database (or "
                         "not exist yet) in a writable folder on a local disk") from exc
    if found != LAYOUT:
        connection.close()
        raise ValueError(f"{path} holds runs in table layout {found}, and this agent-engine-memory-sqlite "
                         f"writes layout {LAYOUT}: move the file away (its runs stay readable by the version "
                         "that wrote it) or point runs: config.path elsewhere")
    return connection


def _summary(row: Sequence[Any]) -> RunSummary:
    return RunSummary(run_id=row[0], status=row[1], started_at=row[2], duration_s=row[3], nodes=row[4],
                      tokens=row[5], origin=row[6])


class SqliteRunStore:
    """One project's runs in a SQLite database (the ``sqlite`` run store; see the module docstring).

    Raises (when built):
        ValueError: a bad ``config`` or ``max_runs``, no place for the database, or a file that cannot be used.
    """

    def __init__(self, setup: RunStoreSetup) -> None:
        if setup.max_runs is not None and setup.max_runs < 1:
            raise ValueError(f"runs: retention max_items must be at least 1, not {setup.max_runs}")
        self.path = runs_database_path(setup)
        self._project = setup.project_id
        self._bound = setup.max_runs or DEFAULT_MAX_RUNS
        self._pid = os.getpid()
        self._write_lock, self._read_lock = threading.Lock(), threading.Lock()
        self._writer = _connect(self.path)
        try:
            self._reader = _connect(self.path)
        except BaseException:
            self._writer.close()
            raise
        self._open = True

    def write(self, runs: Sequence[StoredRun]) -> None:
        """Store ``runs`` and apply retention in one transaction (see the module docstring)."""
        if not runs:
            return
        values: list[Any] = []
        for run in runs:
            summary = run.summary
            values += (self._project, summary.run_id, summary.status, summary.started_at, summary.duration_s,
                       summary.nodes, summary.tokens, summary.origin, run.document_json)
        step = ROWS_PER_INSERT * _COLUMNS
        with self._write_lock:
            self._check_open()
            self._writer.execute("BEGIN IMMEDIATE")
            try:
                for at in range(0, len(values), step):
                    chunk = values[at:at + step]
                    self._writer.execute(_insert(len(chunk) // _COLUMNS), chunk)
                self._writer.execute(_RETAIN, (self._project, self._project, self._bound))
                self._writer.execute("COMMIT")
            except BaseException:
                if self._writer.in_transaction:
                    self._writer.execute("ROLLBACK")
                raise

    def runs(
        self, *, status: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[RunSummary]:
        """Summaries, newest first (``started_at``, then run id)."""
        check_limit(limit)
        sql, args = f"SELECT {_SUMMARY} FROM runs WHERE project_id = ?", list[Any]([self._project])
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if since is not None:
            sql += " AND started_at >= ?"
            args.append(since)
        sql += " ORDER BY started_at DESC, run_id DESC LIMIT ?"
        return [_summary(row) for row in self._read(sql, (*args, -1 if limit is None else limit))]

    def get(self, run_id: str) -> StoredRun | None:
        """The stored run, its document as written, or ``None``."""
        rows = self._read(f"SELECT {_SUMMARY}, document FROM runs WHERE project_id = ? AND run_id = ?",
                          (self._project, run_id))
        return StoredRun(_summary(rows[0]), rows[0][7]) if rows else None

    def close(self) -> None:
        """Close both connections; closing twice is harmless."""
        with self._write_lock, self._read_lock:
            if self._open:
                self._open = False
                self._writer.close()
                self._reader.close()

    def _read(self, sql: str, args: Sequence[Any]) -> list[Any]:
        with self._read_lock:
            self._check_open()
            return self._reader.execute(sql, args).fetchall()

    def _check_open(self) -> None:
        if not self._open:
            raise ValueError(f"the sqlite run store ({self.path}) is closed")
        if os.getpid() != self._pid:  # SQLite forbids carrying a connection across fork()
            raise ValueError(f"the sqlite run store was opened by process {self._pid} before it forked this one: "
                             "build the store in the child process instead")
