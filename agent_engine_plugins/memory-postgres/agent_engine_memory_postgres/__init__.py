"""PostgreSQL memory and artifact backend for Agent Engine: many workers sharing one database.

Install the distribution and name the backend per store in memory.yaml
(``project_store: {backend: postgres, config: {dsn_env: AGENT_ENGINE_PG_DSN}}``). See README.md for the
config, the table layout and the guarantees under concurrent writers.
"""

from __future__ import annotations

from typing import Any

from agent_engine_core.lazy import lazy_attribute

from agent_engine_memory_postgres._version import __version__

__all__ = [
    "SCHEMA_VERSION",
    "PostgresBackend",
    "PostgresSettings",
    "__version__",
    "resolve_settings",
]

_LAZY = {
    "SCHEMA_VERSION": "agent_engine_memory_postgres._schema",
    "PostgresBackend": "agent_engine_memory_postgres._backend",
    "PostgresSettings": "agent_engine_memory_postgres._config",
    "resolve_settings": "agent_engine_memory_postgres._config",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first access, so that plugin discovery imports neither psycopg nor pydantic."""
    return lazy_attribute(__name__, _LAZY, name)
