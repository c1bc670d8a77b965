"""The database layout: tables, indexes, and the schema version kept in ``PRAGMA user_version``.

One table per store (``task_memory``, ``project_memory``, ``global_memory``) and one for ``artifacts``. The
columns are the contract's fields; ``payload``, ``tags`` and ``metadata`` hold JSON text, stored exactly as
given. ``seq`` (an ``AUTOINCREMENT`` rowid, never reused) is the insertion order, which breaks ties between
equal ``created_at``.

Every index serves a query the engine makes, newest first:

* ``<store>_recent (project_id, created_at)``: context assembly's "the newest N of this project", and the
  retention cut. The global store has no ``project_id`` column in its indexes: every project shares it.
* ``<store>_task (project_id, task_id, created_at)``: "the newest N of this task".
* ``artifacts_{recent,task,kind,node,schema}``: the inspector's lookups by project, task, kind, node and
  schema.

The rowid is the last key of every SQLite index, so ``ORDER BY created_at DESC, seq DESC`` walks an index
without a sort. Tag filters use ``json_each`` over the rows an index hands over, newest first, and stop at
the limit; ``bench_memory_sqlite.py`` measures that.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = ["ITEM_TABLES", "SCHEMA_VERSION", "ensure_schema"]

SCHEMA_VERSION = 1
"""Bumped, with a migration step, whenever a table or index changes; ``PRAGMA user_version`` holds it."""

ITEM_TABLES = {"task": "task_memory", "project": "project_memory", "global": "global_memory"}

_ITEM_COLUMNS = """
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    task_id TEXT,
    project_id TEXT NOT NULL,
    store TEXT NOT NULL,
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    created_at REAL NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]' CHECK (json_type(tags) = 'array'),
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
"""

_ARTIFACT_COLUMNS = """
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    project_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    node_id TEXT,
    schema TEXT,
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    created_at REAL NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
"""


def _statements() -> list[str]:
    statements = []
    for store, table in ITEM_TABLES.items():
        scope = "" if store == "global" else "project_id, "
        statements += [
            f"CREATE TABLE IF NOT EXISTS {table} ({_ITEM_COLUMNS})",
            f"CREATE INDEX IF NOT EXISTS {table}_recent ON {table} ({scope}created_at)",
            f"CREATE INDEX IF NOT EXISTS {table}_task ON {table} ({scope}task_id, created_at)",
        ]
    statements.append(f"CREATE TABLE IF NOT EXISTS artifacts ({_ARTIFACT_COLUMNS})")
    statements += [
        f"CREATE INDEX IF NOT EXISTS artifacts_{name} ON artifacts (project_id, {column}created_at)"
        for name, column in (("recent", ""), ("task", "task_id, "), ("kind", "kind, "), ("node", "node_id, "),
                             ("schema", '"schema", '))
    ]
    return statements


def ensure_schema(connection: sqlite3.Connection, path: Path) -> None:
    """Create the tables and indexes if missing (idempotent; safe when processes race to do it).

    Raises:
        ValueError: the database was made by a newer version of this backend (its schema is unknown here).
    """
    if _version(connection) == SCHEMA_VERSION:
        return
    connection.execute("BEGIN IMMEDIATE")  # re-read under the write lock: another process may have just done it
    try:
        version = _version(connection)
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"{path} holds memory schema version {version}, newer than this agent-engine-memory-sqlite "
                f"understands ({SCHEMA_VERSION}): upgrade the distribution, or point config.path at another file"
            )
        for statement in _statements():
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA user_version").fetchone()
    return int(row[0])
