"""``PostgresBackend``: one memory store of one project in a PostgreSQL database shared by many workers.

Each write is one transaction. With a retention bound, the transaction first takes an advisory lock on the
write's scope (``pg_advisory_xact_lock``, released at commit), then inserts, then deletes what lies beyond
``max_items`` newest-first. Writers of the same scope -- threads of one engine or workers on other machines --
are serialised for those few statements only, so every committed state holds at most ``max_items`` items and
the survivors are exactly the newest ``max_items`` by ``(created_at, seq)``. Writers of different scopes never
wait for each other, and readers never wait at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_engine_core.memory import Artifact, MemoryItem, MemorySetup

from agent_engine_memory_postgres._config import resolve_settings
from agent_engine_memory_postgres._pool import open_pool
from agent_engine_memory_postgres._schema import lock_key, memory_table, quoted

__all__ = ["PostgresBackend"]

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
_ITEM_COLUMNS = "id, store, project_id, payload::text, created_at, task_id, tags, metadata::text"
_ARTIFACT_COLUMNS = 'id, kind, project_id, task_id, payload::text, created_at, node_id, "schema", metadata::text'


def _oldest_first(select: str, *, limited: bool) -> str:
    """``select`` in store order; when ``limited``, only the newest ``%s`` rows (still returned oldest first)."""
    if not limited:
        return f"{select} ORDER BY created_at, seq"
    return f"SELECT * FROM ({select} ORDER BY created_at DESC, seq DESC LIMIT %s) AS newest ORDER BY created_at, seq"


class PostgresBackend:
    """The ``postgres`` memory backend: one store (``setup.store``) of one project, over a connection pool.

    Building it checks the whole path once -- the config, the DSN, the server (reachable, credentials accepted,
    UTF-8, durable commits), the tables (created or migrated if needed) -- and opens a
    ``psycopg_pool.ConnectionPool`` that ``close()`` shuts. Problems with the config are ``ValueError``; a
    server that cannot be reached or refuses the credentials is ``ConnectionError``. Every message names the
    server by host, port, database and user, never by DSN. Once built, driver errors (``psycopg.Error``,
    ``psycopg_pool.PoolTimeout``) propagate from the call that met them: a write either committed or raised.
    """

    def __init__(self, setup: MemorySetup) -> None:
        if setup.max_items is not None and setup.max_items < 1:
            raise ValueError(f"retention max_items must be at least 1 (got {setup.max_items})")
        self._settings = settings = resolve_settings(setup.config)
        self._store = setup.store
        self._project_id = setup.project_id
        self._max_items = setup.max_items
        self._table = memory_table(settings.schema, setup.store)
        self._artifacts_table = f"{quoted(settings.schema)}.artifacts"
        scoped = setup.store != "global"
        self._scope_sql = "project_id = %s" if scoped else "TRUE"
        self._scope_args: list[Any] = [setup.project_id] if scoped else []
        self._lock_key = lock_key(settings.schema, f"{setup.store}:{setup.project_id}" if scoped else "global")
        self._insert = (
            f"INSERT INTO {self._table} (id, task_id, project_id, store, payload, created_at, tags, metadata) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        )
        self._trim = (
            f"DELETE FROM {self._table} WHERE seq IN (SELECT seq FROM {self._table} WHERE {self._scope_sql} "
            "ORDER BY created_at DESC, seq DESC OFFSET %s)"
        )
        self._pool = open_pool(settings, what=f"the {setup.store} memory store",
                               name=f"agent-engine-{setup.store}-memory")

    def __repr__(self) -> str:
        return (
            f"PostgresBackend(store={self._store!r}, project_id={self._project_id!r}, "
            f"{self._settings.target}, schema={self._settings.schema!r})"
        )

    # -- items -------------------------------------------------------------------------------------------------

    def append(self, item: MemoryItem) -> None:
        """Insert ``item`` and apply retention, in one transaction committed before this returns."""
        if item.store != self._store:
            raise ValueError(f"a {item.store} item cannot be appended to the {self._store} store")
        if self._store != "global" and item.project_id != self._project_id:
            raise ValueError(
                f"an item of project {item.project_id!r} cannot be appended to project {self._project_id!r}'s "
                f"{self._store} store"
            )
        row = (
            item.id, item.task_id, item.project_id, item.store, item.payload_json, item.created_at,
            list(item.tags), item.metadata_json,
        )
        with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
            if self._max_items is None:
                conn.execute(self._insert, row)
                return
            conn.execute(_LOCK, [self._lock_key])  # held until commit: one writer per scope trims at a time
            conn.execute(self._insert, row)
            conn.execute(self._trim, [*self._scope_args, self._max_items])

    def query(
        self, *, task_id: str | None = None, tags: Sequence[str] = (), limit: int | None = None
    ) -> list[MemoryItem]:
        """Items of this store and scope, oldest first (by ``created_at``, then insertion order)."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative (got {limit})")
        if limit == 0:
            return []
        where, args = [self._scope_sql], list(self._scope_args)
        if task_id is not None:
            where.append("task_id = %s")
            args.append(task_id)
        if tags:
            where.append("tags && %s::text[]")
            args.append(list(tags))
        select = f"SELECT {_ITEM_COLUMNS}, seq FROM {self._table} WHERE {' AND '.join(where)}"
        if limit is not None:
            args.append(limit)
        with self._pool.connection() as conn:
            rows = conn.execute(_oldest_first(select, limited=limit is not None), args).fetchall()
        return [
            MemoryItem(
                id=row[0], store=row[1], project_id=row[2], payload_json=row[3], created_at=row[4],
                task_id=row[5], tags=tuple(row[6]), metadata_json=row[7],
            )
            for row in rows
        ]

    # -- artifacts ---------------------------------------------------------------------------------------------

    def put_artifact(self, artifact: Artifact) -> None:
        """Insert ``artifact`` (artifacts have no retention bound), committed before this returns."""
        with self._pool.connection() as conn:  # autocommit: the single INSERT is its own transaction
            conn.execute(
                f'INSERT INTO {self._artifacts_table} (id, kind, project_id, task_id, node_id, "schema", payload, '
                "created_at, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    artifact.id, artifact.kind, artifact.project_id, artifact.task_id, artifact.node_id,
                    artifact.schema, artifact.payload_json, artifact.created_at, artifact.metadata_json,
                ),
            )

    def artifacts(
        self, *, kind: str | None = None, task_id: str | None = None, node_id: str | None = None,
        schema: str | None = None, limit: int | None = None,
    ) -> list[Artifact]:
        """This project's artifacts matching every given field, oldest first; ``limit`` keeps the newest."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must not be negative (got {limit})")
        if limit == 0:
            return []
        where, args = ["project_id = %s"], list[Any]([self._project_id])
        for column, value in (("kind", kind), ("task_id", task_id), ("node_id", node_id), ('"schema"', schema)):
            if value is not None:
                where.append(f"{column} = %s")
                args.append(value)
        select = f"SELECT {_ARTIFACT_COLUMNS}, seq FROM {self._artifacts_table} WHERE {' AND '.join(where)}"
        if limit is not None:
            args.append(limit)
        with self._pool.connection() as conn:
            rows = conn.execute(_oldest_first(select, limited=limit is not None), args).fetchall()
        return [
            Artifact(
                id=row[0], kind=row[1], project_id=row[2], task_id=row[3], payload_json=row[4], created_at=row[5],
                node_id=row[6], schema=row[7], metadata_json=row[8],
            )
            for row in rows
        ]

    def close(self) -> None:
        """Close the pool and its connections (idempotent); later calls raise ``psycopg_pool.PoolClosed``."""
        self._pool.close()

