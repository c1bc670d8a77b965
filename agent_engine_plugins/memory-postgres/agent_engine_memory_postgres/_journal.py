"""``PostgresRunJournal``: durable runs' stages in the ``journal_runs`` and ``journal_entries`` tables.

Every worker of a project shares them: a run journaled by one process is resumed (or approved) by another.
Each call is one transaction, committed before it returns; a stage's append is one ``INSERT``. ``begin``
replaces the run's row and drops its entries; ``finish`` drops both. A read takes the header and the entries in
one transaction (``REPEATABLE READ``), so they agree.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from agent_engine_core.journal import JournalEntry, JournalRun, JournalSummary
from agent_engine_core.runs import RunStoreSetup

from agent_engine_memory_postgres._config import resolve_settings
from agent_engine_memory_postgres._pool import open_pool
from agent_engine_memory_postgres._schema import quoted

__all__ = ["PostgresRunJournal"]


class PostgresRunJournal:
    """The ``postgres`` run journal (see the module docstring); config as for the memory backend (dsn_env...)."""

    def __init__(self, setup: RunStoreSetup) -> None:
        self._settings = settings = resolve_settings(setup.config)
        self._project = setup.project_id
        s = quoted(settings.schema)
        self._runs, self._entries = f"{s}.journal_runs", f"{s}.journal_entries"
        self._pool = open_pool(settings, what="the run journal", name="agent-engine-journal")

    def __repr__(self) -> str:
        return (f"PostgresRunJournal(project_id={self._project!r}, {self._settings.target}, "
                f"schema={self._settings.schema!r})")

    def begin(self, run_id: str, header_json: str) -> None:
        """Start the run's journal, dropping what was journaled under ``run_id`` before."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(f"DELETE FROM {self._entries} WHERE project_id = %s AND run_id = %s",
                         [self._project, run_id])
            conn.execute(f"INSERT INTO {self._runs} VALUES (%s, %s, 'running', '[]', %s, %s) "
                         "ON CONFLICT (project_id, run_id) DO UPDATE SET status = 'running', detail = '[]', "
                         "header = EXCLUDED.header, updated_at = EXCLUDED.updated_at",
                         [self._project, run_id, header_json, time.time()])

    def append(self, run_id: str, entries: Sequence[JournalEntry]) -> None:
        """Append ``entries`` in one transaction."""
        rows = [(self._project, run_id, kind, body) for kind, body in entries]
        if not rows:
            return
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {self._entries} (project_id, run_id, kind, body) "
                               "VALUES (%s, %s, %s, %s)", rows)

    def set_status(self, run_id: str, status: str, detail_json: str = "[]") -> None:
        """Record the run's status and detail."""
        with self._pool.connection() as conn:
            conn.execute(f"UPDATE {self._runs} SET status = %s, detail = %s, updated_at = %s "
                         "WHERE project_id = %s AND run_id = %s",
                         [status, detail_json, time.time(), self._project, run_id])

    def finish(self, run_id: str) -> None:
        """Drop the run's journal."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute(f"DELETE FROM {self._entries} WHERE project_id = %s AND run_id = %s",
                         [self._project, run_id])
            conn.execute(f"DELETE FROM {self._runs} WHERE project_id = %s AND run_id = %s",
                         [self._project, run_id])

    def read(self, run_id: str) -> JournalRun | None:
        """The run's journal, or ``None``."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = conn.execute(f"SELECT status, detail, updated_at, header FROM {self._runs} "
                               "WHERE project_id = %s AND run_id = %s", [self._project, run_id]).fetchone()
            entries = conn.execute(f"SELECT kind, body FROM {self._entries} WHERE project_id = %s "
                                   "AND run_id = %s ORDER BY seq", [self._project, run_id]).fetchall()
        if row is None:
            return None
        return JournalRun(JournalSummary(run_id, row[0], row[1], row[2]), row[3],
                          tuple((kind, body) for kind, body in entries))

    def runs(self, *, status: str | None = None) -> list[JournalSummary]:
        """Journaled runs, oldest change first."""
        sql = f"SELECT run_id, status, detail, updated_at FROM {self._runs} WHERE project_id = %s"
        args: list[Any] = [self._project]
        if status is not None:
            sql += " AND status = %s"
            args.append(status)
        with self._pool.connection() as conn:
            rows = conn.execute(sql + " ORDER BY updated_at, run_id", args).fetchall()
        return [JournalSummary(*row) for row in rows]

    def close(self) -> None:
        """Close the pool and its connections (idempotent)."""
        self._pool.close()
