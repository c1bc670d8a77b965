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
from typing import TYPE_CHECKING, Any

from agent_engine_core.memory import Artifact, MemoryItem, MemorySetup
from agent_engine_core.secrets import redact

from agent_engine_memory_postgres._config import PostgresSettings, resolve_settings
from agent_engine_memory_postgres._schema import ensure_schema, lock_key, memory_table, quoted

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

__all__ = ["PostgresBackend"]

APPLICATION_NAME = "agent-engine-memory-postgres"
"""Shown in ``pg_stat_activity`` unless the DSN sets ``application_name``."""

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
_ITEM_COLUMNS = "id, store, project_id, payload::text, created_at, task_id, tags, metadata::text"
_ARTIFACT_COLUMNS = 'id, kind, project_id, task_id, payload::text, created_at, node_id, "schema", metadata::text'


def _message(exc: BaseException, settings: PostgresSettings) -> str:
    """The driver's message on one line, with the DSN's password values removed (libpq does not echo them)."""
    return redact(" ".join(str(exc).split()), settings.secrets)


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
        import psycopg  # noqa: PLC0415 - the driver loads when a postgres store is built, not at discovery
        from psycopg_pool import ConnectionPool, PoolTimeout  # noqa: PLC0415

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
        connect_args: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": settings.connect_timeout_s,
            "fallback_application_name": APPLICATION_NAME,
        }
        try:
            with psycopg.connect(settings.conninfo.reveal(), **connect_args) as conn:
                self._prepare(conn)
        except psycopg.OperationalError as exc:
            raise ConnectionError(
                f"cannot connect to PostgreSQL ({settings.target}, DSN from {settings.origin}) for the "
                f"{setup.store} memory store: {_message(exc, settings)}. Check that the server is running and "
                "reachable and that the credentials are right (in the DSN's variable, PGPASSWORD or ~/.pgpass)"
            ) from None
        except psycopg.Error as exc:
            raise ValueError(
                f"cannot use PostgreSQL ({settings.target}, schema {settings.schema!r}) for the {setup.store} "
                f"memory store: {_message(exc, settings)}"
            ) from None
        self._pool: ConnectionPool[Connection[tuple[Any, ...]]] = ConnectionPool(
            settings.conninfo.reveal(),
            kwargs=connect_args,
            min_size=settings.pool.min_size,
            max_size=settings.pool.max_size,
            timeout=settings.pool.timeout_s,
            check=ConnectionPool.check_connection,
            name=f"agent-engine-{setup.store}-memory",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=settings.connect_timeout_s)
        except PoolTimeout:
            self._pool.close()
            raise ConnectionError(
                f"cannot open {settings.pool.min_size} connections to PostgreSQL ({settings.target}) within "
                f"{settings.connect_timeout_s} s for the {setup.store} memory store: lower pool.min_size or check "
                "the server's max_connections"
            ) from None

    def _prepare(self, conn: Connection[tuple[Any, ...]]) -> None:
        """Check the server (UTF-8, durable commits) and create or migrate the tables."""
        encoding = conn.execute("SHOW server_encoding").fetchone()
        if encoding is None or encoding[0] != "UTF8":
            raise ValueError(
                f"the database ({self._settings.target}) uses the encoding {encoding and encoding[0]}: memory "
                "needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')"
            )
        synchronous = conn.execute("SHOW synchronous_commit").fetchone()
        if synchronous is None or synchronous[0] == "off":
            raise ValueError(
                f"the server ({self._settings.target}) acknowledges commits before they are durable "
                "(synchronous_commit = off), and memory writes must survive a crash once acknowledged: add "
                "options='-c synchronous_commit=on' to the DSN, or ALTER ROLE ... SET synchronous_commit = on"
            )
        ensure_schema(conn, self._settings.schema)

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

