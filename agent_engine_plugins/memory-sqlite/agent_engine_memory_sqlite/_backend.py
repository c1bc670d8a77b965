"""The ``sqlite`` backend: one store of one project in a SQLite database (WAL, ``synchronous=FULL``).

Why it is built this way:

* **One connection per backend, behind a lock.** The engine calls a store from its worker threads. Each
  backend opens one connection with ``check_same_thread=False``, and a ``threading.Lock`` around every use
  makes the calls take turns. A call holds the lock for well under a millisecond, or one ``fsync`` for a
  write. Per-thread connections would let reads overlap, but they would leak with the executor's threads
  and could not all be closed by ``close()``. Different stores (task, project, global) have their own
  backends, so their connections do not wait for each other's locks. SQLite then serialises writers at
  commit, and a busy timeout absorbs that.
* **One transaction per write.** ``append`` inserts the item and deletes what retention drops in one
  ``BEGIN IMMEDIATE ... COMMIT``. No reader, and no crash, can see the store past its bound, or the
  deletion without the insert.
* **WAL and ``synchronous=FULL``.** In WAL mode, readers never block the writer and the writer never blocks
  readers, in this process or another. ``FULL`` syncs the WAL at every commit. A write that returned
  survives a power cut, not just a crash of the process. The cost is one ``fsync`` per write (see the
  README's figures). ``NORMAL`` would be several times faster, but could lose the last commits on power
  loss, and the memory contract promises that an acknowledged write is durable.
* **Several processes on one host** may share the file (WAL plus the busy timeout). A network file system
  may not: SQLite's locking is unreliable there. Many workers on many hosts share memory through postgres.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent_engine_core.codec import dumps, loads
from agent_engine_core.memory import Artifact, MemoryItem, MemorySetup, check_limit, file_store_path

from agent_engine_memory_sqlite._schema import ITEM_TABLES, ensure_schema

__all__ = ["BUSY_TIMEOUT_S", "DEFAULT_PATH", "SqliteMemoryBackend", "database_path"]

DEFAULT_PATH = ".agent_engine/memory/memory.db"
"""The database file, relative to the config dir, when memory.yaml's ``config`` names no ``path``."""

BUSY_TIMEOUT_S = 30.0
"""How long a write waits for another connection's transaction before raising ``sqlite3.OperationalError``."""


def open_wal(path: Path, synchronous: str) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode with ``PRAGMA synchronous``, usable from any one thread at a time.

    Raises ``sqlite3.Error`` (the connection closed) when the file is not a database or WAL cannot be had.
    """
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"journal_mode is {mode!r}: WAL could not be switched on")
        connection.execute(f"PRAGMA synchronous={synchronous}")
    except BaseException:
        connection.close()
        raise
    return connection


def layout_of(connection: sqlite3.Connection, table: str, statements: Sequence[str], layout: int) -> int:
    """The layout (``PRAGMA user_version``) the file holds; ``statements`` make it ``layout`` when ``table`` is missing.

    Processes may race to create the tables: the statements say ``IF NOT EXISTS`` and run under ``BEGIN IMMEDIATE``.
    """
    if connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is None:
        connection.execute("BEGIN IMMEDIATE")
        for statement in statements:
            connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {layout}")
        connection.execute("COMMIT")
    return int(connection.execute("PRAGMA user_version").fetchone()[0])

_ITEM_COLUMNS = "id, store, project_id, payload, created_at, task_id, tags, metadata"
_ARTIFACT_COLUMNS = "id, kind, project_id, task_id, payload, created_at, node_id, schema, metadata"


def database_path(setup: MemorySetup) -> Path:
    """The absolute database file, from ``setup.config["path"]`` and ``setup.project_dir``.

    A relative ``path`` is taken from the config dir, or from the current directory when the manifests have no
    folder (in-memory manifests); without a config dir, ``path`` is required.

    Raises:
        ValueError: an unknown config key, a ``path`` that is not text, or no place for the database.
    """
    return file_store_path(setup, backend="sqlite", default=DEFAULT_PATH, kind="database file")


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database with the durability settings, and its schema.

    Raises:
        ValueError: the path is a folder, its folder cannot be created, or the file is not a usable, writable
            SQLite database; the message names the path.
    """
    if path.is_dir():
        raise ValueError(f"config.path {str(path)!r} is a folder; point it at the database file (memory.db)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create the folder of the SQLite memory database {path}: {exc.strerror or exc}; "
                         "config.path must be in a writable folder") from exc
    connection: sqlite3.Connection | None = None
    try:
        connection = open_wal(path, "FULL")
        ensure_schema(connection, path)
    except sqlite3.Error as exc:
        if connection is not None:
            connection.close()
        raise ValueError(
            f"cannot use {path} as the SQLite memory database ({exc}): it must be a SQLite database (or not "
            "exist yet) in a writable folder on a local disk; move a damaged file away, or point config.path "
            "at another file"
        ) from exc
    except BaseException:
        if connection is not None:
            connection.close()
        raise
    return connection


class SqliteMemoryBackend:
    """One store of one project in a SQLite database (the ``sqlite`` backend; ``SqliteMemoryBackend(setup)``).

    Raises (when built):
        ValueError: a bad ``config``, no place for the database, or a file that cannot be used (see
            ``_connect``); the message names the path.
    """

    def __init__(self, setup: MemorySetup) -> None:
        self.setup = setup
        self.path = database_path(setup)
        self._table = ITEM_TABLES[setup.store]
        self._shared = setup.store == "global"
        self._lock = threading.Lock()
        self._connection = _connect(self.path)
        self._pid = os.getpid()
        self._finalizer = weakref.finalize(self, self._connection.close)
        scope = "" if self._shared else "project_id = ? AND "
        self._scope_args: tuple[str, ...] = () if self._shared else (setup.project_id,)
        self._insert = (f"INSERT INTO {self._table} (id, task_id, project_id, store, payload, created_at, tags, "
                        "metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        self._retain = (f"DELETE FROM {self._table} WHERE seq IN (SELECT seq FROM {self._table} WHERE {scope}1 "
                        "ORDER BY created_at DESC, seq DESC LIMIT -1 OFFSET ?)")
        self._select = f"SELECT {_ITEM_COLUMNS} FROM {self._table} WHERE {scope}1"

    def append(self, item: MemoryItem) -> None:
        """Insert ``item`` and apply retention in one transaction; durable when it returns.

        Raises:
            ValueError: the item belongs to another store or project, its JSON texts are not JSON, or the
                backend is closed.
            sqlite3.Error: the database failed (locked past the busy timeout, disk full...); nothing was stored.
        """
        if item.store != self.setup.store:
            raise ValueError(f"item {item.id!r} belongs to the {item.store} store, not the {self.setup.store} store")
        if not self._shared and item.project_id != self.setup.project_id:
            raise ValueError(f"item {item.id!r} belongs to project {item.project_id!r}, not to this store's "
                             f"project {self.setup.project_id!r}")
        row = (item.id, item.task_id, item.project_id, item.store, item.payload_json, item.created_at,
               dumps(list(item.tags)), item.metadata_json)
        with self._lock:
            self._check_open()
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                self._connection.execute(self._insert, row)
                if self.setup.max_items is not None:
                    self._connection.execute(self._retain, (*self._scope_args, self.setup.max_items))
                self._connection.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                self._rollback()
                raise ValueError(f"cannot store item {item.id!r}: {exc}") from None
            except BaseException:
                self._rollback()
                raise

    def query(
        self, *, task_id: str | None = None, tags: Sequence[str] = (), limit: int | None = None
    ) -> list[MemoryItem]:
        """Items of this store's scope, oldest first, filtered by task and by any of ``tags``; the newest ``limit``."""
        check_limit(limit)
        sql, args = self._select, list(self._scope_args)
        if task_id is not None:
            sql += " AND task_id = ?"
            args.append(task_id)
        wanted = sorted(set(tags))
        if wanted:
            sql += (f" AND EXISTS (SELECT 1 FROM json_each({self._table}.tags) "
                    f"WHERE json_each.value IN ({', '.join('?' * len(wanted))}))")
            args += wanted
        sql += " ORDER BY created_at DESC, seq DESC LIMIT ?"
        rows = self._fetch(sql, (*args, -1 if limit is None else limit))
        return [
            MemoryItem(id=r[0], store=r[1], project_id=r[2], payload_json=r[3], created_at=r[4], task_id=r[5],
                       tags=_tags(r[6]), metadata_json=r[7])
            for r in reversed(rows)
        ]

    def put_artifact(self, artifact: Artifact) -> None:
        """Insert ``artifact`` in one transaction; durable when it returns (artifacts are not bounded)."""
        if artifact.project_id != self.setup.project_id:
            raise ValueError(f"artifact {artifact.id!r} belongs to project {artifact.project_id!r}, not to "
                             f"{self.setup.project_id!r}")
        row = (artifact.id, artifact.kind, artifact.project_id, artifact.task_id, artifact.node_id, artifact.schema,
               artifact.payload_json, artifact.created_at, artifact.metadata_json)
        with self._lock:
            self._check_open()
            try:
                self._connection.execute(  # autocommit: one statement is one transaction
                    "INSERT INTO artifacts (id, kind, project_id, task_id, node_id, schema, payload, created_at, "
                    "metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"cannot store artifact {artifact.id!r}: {exc}") from None

    def artifacts(
        self, *, kind: str | None = None, task_id: str | None = None, node_id: str | None = None,
        schema: str | None = None, limit: int | None = None,
    ) -> list[Artifact]:
        """Artifacts of this project matching every given field, oldest first; ``limit`` keeps the newest."""
        check_limit(limit)
        sql, args = f"SELECT {_ARTIFACT_COLUMNS} FROM artifacts WHERE project_id = ?", [self.setup.project_id]
        for column, value in (("kind", kind), ("task_id", task_id), ("node_id", node_id), ("schema", schema)):
            if value is not None:
                sql += f' AND "{column}" = ?'
                args.append(value)
        sql += " ORDER BY created_at DESC, seq DESC LIMIT ?"
        rows = self._fetch(sql, (*args, -1 if limit is None else limit))
        return [
            Artifact(id=r[0], kind=r[1], project_id=r[2], task_id=r[3], payload_json=r[4], created_at=r[5],
                     node_id=r[6], schema=r[7], metadata_json=r[8])
            for r in reversed(rows)
        ]

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self._lock:
            self._finalizer()

    def _fetch(self, sql: str, args: Sequence[Any]) -> list[Any]:
        with self._lock:
            self._check_open()
            return self._connection.execute(sql, args).fetchall()

    def _rollback(self) -> None:
        if self._connection.in_transaction:
            try:
                self._connection.execute("ROLLBACK")
            except sqlite3.Error:  # the original error says more; SQLite may have rolled back already
                pass

    def _check_open(self) -> None:
        if not self._finalizer.alive:
            raise ValueError(f"the sqlite backend of the {self.setup.store} store ({self.path}) is closed")
        if os.getpid() != self._pid:  # SQLite forbids carrying a connection across fork()
            raise ValueError(f"the sqlite backend of the {self.setup.store} store was opened by process {self._pid} "
                             "before it forked this one: build the backend in the child process instead")


@lru_cache(maxsize=4096)
def _tags(text: str) -> tuple[str, ...]:
    """Decoded tags; few distinct tag lists repeat over many rows, and a tuple is safe to share."""
    return tuple(loads(text))
