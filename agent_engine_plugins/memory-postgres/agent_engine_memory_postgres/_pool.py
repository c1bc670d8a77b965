"""Opening a store's connection pool: the server checked once (reachable, UTF-8, durable commits, tables).

The memory backend and the run store both start this way, so a server that cannot serve them is refused at
load time with the same messages, naming the server by host, port, database and user, never by DSN.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_engine_core.secrets import redact

from agent_engine_memory_postgres._config import PostgresSettings
from agent_engine_memory_postgres._schema import ensure_schema

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg_pool import ConnectionPool

__all__ = ["APPLICATION_NAME", "open_pool"]

APPLICATION_NAME = "agent-engine-memory-postgres"
"""Shown in ``pg_stat_activity`` unless the DSN sets ``application_name``."""


def _message(exc: BaseException, settings: PostgresSettings) -> str:
    """The driver's message on one line, with the DSN's password values removed (libpq does not echo them)."""
    return redact(" ".join(str(exc).split()), settings.secrets)


def open_pool(settings: PostgresSettings, *, what: str, name: str) -> ConnectionPool[Connection[tuple[Any, ...]]]:
    """Check the server and the tables for ``what`` ("the task memory store"), then open its pool.

    Raises:
        ConnectionError: the server cannot be reached, refuses the credentials, or gives too few connections.
        ValueError: the server or database cannot hold the store (encoding, durability, schema, privileges).
    """
    import psycopg  # noqa: PLC0415 - the driver loads when a postgres store is built, not at discovery
    from psycopg_pool import ConnectionPool, PoolTimeout  # noqa: PLC0415

    connect_args: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": settings.connect_timeout_s,
        "fallback_application_name": APPLICATION_NAME,
    }
    try:
        with psycopg.connect(settings.conninfo.reveal(), **connect_args) as conn:
            _prepare(conn, settings)
    except psycopg.OperationalError as exc:
        raise ConnectionError(
            f"cannot connect to PostgreSQL ({settings.target}, DSN from {settings.origin}) for {what}: "
            f"{_message(exc, settings)}. Check that the server is running and reachable and that the credentials "
            "are right (in the DSN's variable, PGPASSWORD or ~/.pgpass)"
        ) from None
    except psycopg.Error as exc:
        raise ValueError(
            f"cannot use PostgreSQL ({settings.target}, schema {settings.schema!r}) for {what}: "
            f"{_message(exc, settings)}"
        ) from None
    pool: ConnectionPool[Connection[tuple[Any, ...]]] = ConnectionPool(
        settings.conninfo.reveal(),
        kwargs=connect_args,
        min_size=settings.pool.min_size,
        max_size=settings.pool.max_size,
        timeout=settings.pool.timeout_s,
        check=ConnectionPool.check_connection,
        name=name,
        open=False,
    )
    try:
        pool.open(wait=True, timeout=settings.connect_timeout_s)
    except PoolTimeout:
        pool.close()
        raise ConnectionError(
            f"cannot open {settings.pool.min_size} connections to PostgreSQL ({settings.target}) within "
            f"{settings.connect_timeout_s} s for {what}: lower pool.min_size or check the server's max_connections"
        ) from None
    return pool


def _prepare(conn: Connection[tuple[Any, ...]], settings: PostgresSettings) -> None:
    """Check the server (UTF-8, durable commits) and create or migrate the tables."""
    encoding = conn.execute("SHOW server_encoding").fetchone()
    if encoding is None or encoding[0] != "UTF8":
        raise ValueError(
            f"the database ({settings.target}) uses the encoding {encoding and encoding[0]}: memory "
            "needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')"
        )
    synchronous = conn.execute("SHOW synchronous_commit").fetchone()
    if synchronous is None or synchronous[0] == "off":
        raise ValueError(
            f"the server ({settings.target}) acknowledges commits before they are durable "
            "(synchronous_commit = off), and memory writes must survive a crash once acknowledged: add "
            "options='-c synchronous_commit=on' to the DSN, or ALTER ROLE ... SET synchronous_commit = on"
        )
    ensure_schema(conn, settings.schema)
