"""The tables, created idempotently at first use and versioned in ``<schema>.schema_version``.

Layout (SPEC §3.4's SQLite layout, in one PostgreSQL schema, ``agent_engine`` by default)::

    task_memory, project_memory, global_memory
        seq         bigserial PRIMARY KEY     insertion order (the tie-break after created_at)
        id          text                      the item id
        task_id     text NULL
        project_id  text                      the scope of task and project items; the writer of global ones
        store       text                      task | project | global
        payload     json                      the item's JSON text, byte for byte (json keeps the text as given;
                                              jsonb would reorder keys), queryable with -> and ->>
        created_at  double precision          seconds since the epoch, exactly as given
        tags        text[]                    GIN-indexed: ``tags && ARRAY[...]`` is "at least one tag in common"
        metadata    json
    artifacts
        seq, id, kind, project_id, task_id, node_id, schema, payload, created_at, metadata
    runs (version 2: the run store)
        seq         bigserial PRIMARY KEY     write order (retention drops the lowest)
        project_id, run_id                    unique together; run_id in the "C" collation, so that listings
                                              tie-break by code point, as every run store does
        status, started_at, duration_s, nodes, tokens, origin     the run's summary
        document    text                      the run's JSON document, byte for byte (never read here)
    journal_runs, journal_entries (version 3: the run journal of durable runs)
        journal_runs: project_id, run_id (the key), status, detail, header, updated_at
        journal_entries: seq bigserial (append order), project_id, run_id, kind, body (text, never read here)

Every query orders by ``(created_at, seq)``, and every index ends with those two columns, so "oldest first",
"the newest N" and the retention cut-off are index scans. Creating or migrating takes a transaction-scoped
advisory lock, so many workers starting at once against a fresh database create the tables exactly once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_engine_core.lazy import get_logger

if TYPE_CHECKING:
    from psycopg import Connection

__all__ = ["SCHEMA_VERSION", "ensure_schema", "lock_key", "memory_table"]

log = get_logger(__name__)

SCHEMA_VERSION = 3
"""The layout version this release writes; a database at a newer version is refused."""

_MEMORY_TABLE = """
CREATE TABLE {s}.{table} (
    seq bigserial PRIMARY KEY,
    id text NOT NULL,
    task_id text,
    project_id text NOT NULL,
    store text NOT NULL,
    payload json NOT NULL,
    created_at double precision NOT NULL,
    tags text[] NOT NULL DEFAULT '{{}}',
    metadata json NOT NULL DEFAULT '{{}}'
)"""


def _memory_tables(s: str) -> list[str]:
    statements = []
    for store in ("task", "project"):
        table = f"{store}_memory"
        statements += [
            _MEMORY_TABLE.format(s=s, table=table),
            f"CREATE INDEX {table}_scope ON {s}.{table} (project_id, created_at, seq)",
            f"CREATE INDEX {table}_task ON {s}.{table} (project_id, task_id, created_at, seq)",
            f"CREATE INDEX {table}_tags ON {s}.{table} USING gin (tags)",
        ]
    return [
        *statements,
        _MEMORY_TABLE.format(s=s, table="global_memory"),
        f"CREATE INDEX global_memory_scope ON {s}.global_memory (created_at, seq)",
        f"CREATE INDEX global_memory_task ON {s}.global_memory (task_id, created_at, seq)",
        f"CREATE INDEX global_memory_tags ON {s}.global_memory USING gin (tags)",
    ]


def _artifacts_table(s: str) -> list[str]:
    return [
        f"""CREATE TABLE {s}.artifacts (
            seq bigserial PRIMARY KEY,
            id text NOT NULL,
            kind text NOT NULL,
            project_id text NOT NULL,
            task_id text NOT NULL,
            node_id text,
            "schema" text,
            payload json NOT NULL,
            created_at double precision NOT NULL,
            metadata json NOT NULL DEFAULT '{{}}'
        )""",
        f"CREATE INDEX artifacts_project ON {s}.artifacts (project_id, created_at, seq)",
        *(
            f"CREATE INDEX artifacts_{name} ON {s}.artifacts (project_id, {column}, created_at, seq)"
            for name, column in (("kind", "kind"), ("task", "task_id"), ("node", "node_id"), ("schema", '"schema"'))
        ),
    ]


def _version_1(s: str) -> list[str]:
    return [*_memory_tables(s), *_artifacts_table(s)]


def _version_2(s: str) -> list[str]:
    return [
        f"""CREATE TABLE {s}.runs (
            seq bigserial PRIMARY KEY,
            project_id text NOT NULL,
            run_id text COLLATE "C" NOT NULL,
            status text NOT NULL,
            started_at double precision NOT NULL,
            duration_s double precision NOT NULL,
            nodes integer NOT NULL,
            tokens bigint NOT NULL,
            origin text,
            document text NOT NULL,
            UNIQUE (project_id, run_id)
        )""",
        f"CREATE INDEX runs_recent ON {s}.runs (project_id, started_at, run_id)",
        f"CREATE INDEX runs_written ON {s}.runs (project_id, seq)",
    ]


def _version_3(s: str) -> list[str]:
    return [
        f"""CREATE TABLE {s}.journal_runs (
            project_id text NOT NULL,
            run_id text COLLATE "C" NOT NULL,
            status text NOT NULL,
            detail text NOT NULL,
            header text NOT NULL,
            updated_at double precision NOT NULL,
            PRIMARY KEY (project_id, run_id)
        )""",
        f"""CREATE TABLE {s}.journal_entries (
            seq bigserial PRIMARY KEY,
            project_id text NOT NULL,
            run_id text COLLATE "C" NOT NULL,
            kind text NOT NULL,
            body text NOT NULL
        )""",
        f"CREATE INDEX journal_of_run ON {s}.journal_entries (project_id, run_id, seq)",
    ]


_MIGRATIONS = (_version_1, _version_2, _version_3)
"""Migration ``n`` (1-based) takes a database from version ``n - 1`` to ``n``."""


def quoted(schema: str) -> str:
    """The schema name as an SQL identifier (names are validated to ``[a-z_][a-z0-9_]*`` beforehand)."""
    return f'"{schema}"'


def memory_table(schema: str, store: str) -> str:
    """The qualified name of a store's table."""
    return f"{quoted(schema)}.{store}_memory"


def lock_key(schema: str, scope: str) -> str:
    """The text hashed into an advisory lock key (``pg_advisory_xact_lock(hashtextextended(key, 0))``)."""
    return f"agent_engine_memory_postgres:{schema}:{scope}"


def _version(conn: Connection[tuple[Any, ...]], schema: str) -> int:
    # a plain catalog query (not to_regclass, which may answer from this session's stale catalog cache after
    # waiting for the lock): it sees what the statement's snapshot sees, including a migration just committed
    row = conn.execute(
        "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = %s AND tablename = 'schema_version'", [schema]
    ).fetchone()
    if row is None:
        return 0
    found = conn.execute(f"SELECT coalesce(max(version), 0) FROM {quoted(schema)}.schema_version").fetchone()
    return int(found[0]) if found is not None else 0


def _check(version: int, schema: str) -> None:
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"the PostgreSQL schema {schema!r} has layout version {version}, newer than the {SCHEMA_VERSION} this "
            "agent-engine-memory-postgres knows: upgrade the distribution"
        )


def ensure_schema(conn: Connection[tuple[Any, ...]], schema: str) -> None:
    """Create or migrate the tables of ``schema`` to ``SCHEMA_VERSION`` (``conn`` is in autocommit mode).

    The version is read first without a lock, so a database already at this version needs no DDL privilege
    (workers may run as a role that can only read and write the tables).
    """
    version = _version(conn, schema)
    _check(version, schema)
    if version == SCHEMA_VERSION:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [lock_key(schema, "schema")])
        version = _version(conn, schema)  # another worker may have migrated while this one waited
        _check(version, schema)
        s = quoted(schema)
        if conn.execute("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", [schema]).fetchone() is None:
            conn.execute(f"CREATE SCHEMA {s}")  # needs CREATE on the database, even with IF NOT EXISTS: ask only then
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {s}.schema_version ("
            "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL)"
        )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _MIGRATIONS[target - 1](s):
                conn.execute(statement)  # built from validated names only
            conn.execute(
                f"INSERT INTO {s}.schema_version (version, applied_by) VALUES (%s, %s)",
                [target, "agent-engine-memory-postgres"],
            )
        if version < SCHEMA_VERSION:
            log.info("postgres memory schema migrated", schema=schema, from_version=version, to_version=SCHEMA_VERSION)
