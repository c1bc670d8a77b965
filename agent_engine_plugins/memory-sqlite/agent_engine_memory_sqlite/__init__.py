"""agent-engine-memory-sqlite: memory stores and artifacts in one SQLite database (WAL, synchronous=FULL).

Choose it per store in memory.yaml (``project_store: {backend: sqlite}``). The database is
``<config dir>/.agent_engine/memory/memory.db``, with the tables ``task_memory``, ``project_memory``,
``global_memory`` and ``artifacts``; see README.md for the durability guarantees and the concurrency limits.
memory.yaml's ``runs: {backend: sqlite}`` keeps every finished run in ``<config dir>/.agent_engine/runs.db``;
with ``durability: stage`` durable runs journal their stages in ``journal.db`` beside it.
"""

from agent_engine_memory_sqlite._backend import BUSY_TIMEOUT_S, DEFAULT_PATH, SqliteMemoryBackend, database_path
from agent_engine_memory_sqlite._journal import JOURNAL_FILE, SqliteRunJournal
from agent_engine_memory_sqlite._runs import DEFAULT_MAX_RUNS, DEFAULT_RUNS_PATH, SqliteRunStore, runs_database_path
from agent_engine_memory_sqlite._schema import SCHEMA_VERSION
from agent_engine_memory_sqlite._version import __version__
from agent_engine_memory_sqlite.plugin import BACKEND_NAME, build_backend, build_run_journal, build_run_store

__all__ = [
    "BACKEND_NAME",
    "BUSY_TIMEOUT_S",
    "DEFAULT_MAX_RUNS",
    "DEFAULT_PATH",
    "DEFAULT_RUNS_PATH",
    "JOURNAL_FILE",
    "SCHEMA_VERSION",
    "SqliteMemoryBackend",
    "SqliteRunJournal",
    "SqliteRunStore",
    "__version__",
    "build_backend",
    "build_run_journal",
    "build_run_store",
    "database_path",
    "runs_database_path",
]
