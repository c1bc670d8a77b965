"""``PostgresRunStore``: one project's finished runs in the ``runs`` table, shared by every worker.

A ``write(runs)`` is one transaction: an advisory lock on the project's runs (held until commit, so that
writers of one project take turns and ``seq`` is their write order), the replaced run ids deleted, every row
inserted, then the rows beyond ``max_runs`` by ``seq`` deleted. The documents are composed before the
transaction, so one that cannot be composed leaves nothing. Readers never wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_engine_core.memory import check_limit
from agent_engine_core.runs import RunStoreSetup, RunSummary, StoredRun

from agent_engine_memory_postgres._config import resolve_settings
from agent_engine_memory_postgres._pool import open_pool
from agent_engine_memory_postgres._schema import lock_key, quoted

__all__ = ["DEFAULT_MAX_RUNS", "PostgresRunStore"]

DEFAULT_MAX_RUNS = 10_000
"""Runs kept per project when memory.yaml's ``runs: {retention: {max_items: ...}}`` sets no bound."""

_SUMMARY = "run_id, status, started_at, duration_s, nodes, tokens, origin"


def _summary(row: Sequence[Any]) -> RunSummary:
    return RunSummary(run_id=row[0], status=row[1], started_at=row[2], duration_s=row[3], nodes=row[4],
                      tokens=row[5], origin=row[6])


class PostgresRunStore:
    """The ``postgres`` run store (see the module docstring); config as for the memory backend (dsn_env...).

    Raises (when built): ``ValueError`` for a bad config or ``max_runs``, ``ConnectionError`` for a server that
    cannot be reached or refuses the credentials.
    """

    def __init__(self, setup: RunStoreSetup) -> None:
        if setup.max_runs is not None and setup.max_runs < 1:
            raise ValueError(f"runs: retention max_items must be at least 1, not {setup.max_runs}")
        self._settings = settings = resolve_settings(setup.config)
        self._project = setup.project_id
        self._bound = setup.max_runs or DEFAULT_MAX_RUNS
        table = f"{quoted(settings.schema)}.runs"
        self._lock_key = lock_key(settings.schema, f"runs:{setup.project_id}")
        self._delete = f"DELETE FROM {table} WHERE project_id = %s AND run_id = ANY(%s)"
        self._insert = (f"INSERT INTO {table} (project_id, {_SUMMARY}, document) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
        self._trim = (f"DELETE FROM {table} WHERE project_id = %s AND seq <= (SELECT seq FROM {table} "
                      "WHERE project_id = %s ORDER BY seq DESC OFFSET %s LIMIT 1)")
        self._select = f"SELECT {_SUMMARY} FROM {table} WHERE project_id = %s"
        self._get = f"SELECT {_SUMMARY}, document FROM {table} WHERE project_id = %s AND run_id = %s"
        self._pool = open_pool(settings, what="the run store", name="agent-engine-runs")

    def __repr__(self) -> str:
        return (f"PostgresRunStore(project_id={self._project!r}, {self._settings.target}, "
                f"schema={self._settings.schema!r})")

    def write(self, runs: Sequence[StoredRun]) -> None:
        """Store ``runs`` and apply retention in one transaction, committed before this returns."""
        latest: dict[str, StoredRun] = {}
        for run in runs:  # a run id twice in one write: the later one, at its place in the write order
            latest.pop(run.run_id, None)
            latest[run.run_id] = run
        rows = [(self._project, s.run_id, s.status, s.started_at, s.duration_s, s.nodes, s.tokens,
                 s.origin, run.document_json) for run in latest.values() for s in (run.summary,)]
        if not rows:
            return
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [self._lock_key])
            conn.execute(self._delete, [self._project, list(latest)])
            with conn.cursor() as cursor:
                cursor.executemany(self._insert, rows)
            conn.execute(self._trim, [self._project, self._project, self._bound])

    def runs(
        self, *, status: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[RunSummary]:
        """Summaries, newest first (``started_at``, then run id)."""
        check_limit(limit)
        sql, args = self._select, list[Any]([self._project])
        if status is not None:
            sql += " AND status = %s"
            args.append(status)
        if since is not None:
            sql += " AND started_at >= %s"
            args.append(since)
        sql += " ORDER BY started_at DESC, run_id DESC"
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        with self._pool.connection() as conn:
            return [_summary(row) for row in conn.execute(sql, args).fetchall()]

    def get(self, run_id: str) -> StoredRun | None:
        """The stored run, its document as written, or ``None``."""
        with self._pool.connection() as conn:
            row = conn.execute(self._get, [self._project, run_id]).fetchone()
        return None if row is None else StoredRun(_summary(row), row[7])

    def close(self) -> None:
        """Close the pool and its connections (idempotent)."""
        self._pool.close()
