"""The ``config`` mapping of a memory.yaml store that names ``backend: postgres``, validated and resolved.

```yaml
project_store:
  backend: postgres
  config:
    dsn_env: AGENT_ENGINE_PG_DSN      # or dsn: "host=db.internal dbname=agent user=engine"
    schema: agent_engine              # default
    pool: {min_size: 1, max_size: 4, timeout_s: 30}
    connect_timeout_s: 10
```

Exactly one of ``dsn`` (a libpq connection string or ``postgresql://`` URL, written in memory.yaml) and
``dsn_env`` (the name of an environment variable holding one) is required. memory.yaml is a project file that
ends up in version control, so an inline ``dsn`` holding a ``password`` (or ``sslpassword``) is refused: the
password belongs in the variable ``dsn_env`` names, in ``PGPASSWORD``, or in a ``~/.pgpass``/``passfile``.
The resolved DSN is kept in a redacting ``Secret``; messages describe the server by host, port, database and
user only, and never quote the DSN (a libpq parse error can echo part of it, so parse errors are not relayed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from agent_engine_core.secrets import Secret
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["PoolConfig", "PostgresConfig", "PostgresSettings", "resolve_settings"]

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_KEYWORDS = ("password", "sslpassword")
"""libpq keywords whose values are secrets: refused inline, redacted from driver messages."""


class PoolConfig(BaseModel):
    """``pool:``: the connection pool of one store's backend (``psycopg_pool.ConnectionPool``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_size: int = Field(default=1, ge=0)
    """Connections kept open while idle."""
    max_size: int = Field(default=4, ge=1)
    """Connections at most, for the threads of one engine writing to this store at once."""
    timeout_s: float = Field(default=30.0, gt=0)
    """How long a call waits for a free connection before it fails (``psycopg_pool.PoolTimeout``)."""

    @model_validator(mode="after")
    def _sizes(self) -> Self:
        if self.max_size < self.min_size:
            raise ValueError("max_size must be at least min_size")
        return self


class PostgresConfig(BaseModel):
    """The store's ``config`` mapping as written in memory.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    dsn: str | None = Field(default=None, min_length=1)
    """A libpq connection string or URL, without a password."""
    dsn_env: str | None = None
    """The name of an environment variable that holds the DSN (which may hold the password)."""
    schema_name: str = Field(default="agent_engine", alias="schema")
    """The PostgreSQL schema the tables live in (created at first use)."""
    pool: PoolConfig = PoolConfig()
    connect_timeout_s: int = Field(default=10, ge=2)
    """libpq's ``connect_timeout``, in whole seconds (libpq's minimum is 2)."""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.dsn is None) == (self.dsn_env is None):
            raise ValueError("give exactly one of dsn and dsn_env (the name of a variable holding the DSN)")
        if self.dsn_env is not None and not _ENV_NAME.match(self.dsn_env):
            raise ValueError("dsn_env must be the name of an environment variable, not a DSN")
        if not _SCHEMA_NAME.match(self.schema_name):
            raise ValueError("schema must be a lower-case SQL name: letters, digits and _, at most 63 characters")
        return self


@dataclass(frozen=True, slots=True)
class PostgresSettings:
    """A resolved config: the DSN (redacted), where it came from, and the server it points at (safe to show)."""

    conninfo: Secret
    origin: str
    """``memory.yaml dsn`` or ``$VARIABLE``."""
    target: str
    """``host 127.0.0.1 port 5432 database agent user engine``: names the server, never the password."""
    secrets: tuple[Secret, ...]
    """The DSN's password values, redacted from driver messages before they are shown."""
    schema: str
    pool: PoolConfig
    connect_timeout_s: int


def _problems(error: ValidationError) -> str:
    # pydantic's own str() quotes the input value, which could be a DSN: keep locations and messages only
    parts = []
    for problem in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in problem["loc"])
        parts.append(f"{where}: {problem['msg']}" if where else str(problem["msg"]))
    return "; ".join(parts)


def _describe(parsed: Mapping[str, str]) -> str:
    """The server a parsed DSN points at, with libpq's defaults (``PGHOST``...) for what it leaves out."""
    from psycopg import pq  # noqa: PLC0415 - the driver loads when a backend is built, not at discovery

    defaults = {
        option.keyword.decode(): option.val.decode() for option in pq.Conninfo.get_defaults() if option.val
    }
    effective = {**defaults, **{key: value for key, value in parsed.items() if value}}
    host = effective.get("host") or effective.get("hostaddr") or "the local Unix socket"
    user = effective.get("user", "?")
    database = effective.get("dbname") or user
    return f"host {host} port {effective.get('port', '5432')} database {database} user {user}"


def resolve_settings(config: Any, *, environ: Mapping[str, str] | None = None) -> PostgresSettings:
    """Validate a store's ``config`` and resolve its DSN; ``ValueError`` names the field at fault, never a value."""
    from psycopg import Error as DriverError  # noqa: PLC0415 - see _describe
    from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415

    if not isinstance(config, Mapping):
        raise ValueError("the postgres backend's config must be a mapping (dsn_env, schema, pool...)")
    try:
        parsed_config = PostgresConfig.model_validate(dict(config))
    except ValidationError as exc:
        raise ValueError(f"invalid postgres backend config: {_problems(exc)}") from None
    environ = os.environ if environ is None else environ
    if parsed_config.dsn_env is not None:
        origin = f"${parsed_config.dsn_env}"
        dsn = environ.get(parsed_config.dsn_env)
        if not dsn:
            raise ValueError(
                f"the environment variable {parsed_config.dsn_env} (dsn_env) is not set or empty: set it to the "
                "PostgreSQL connection string or URL"
            )
    else:
        origin = "memory.yaml dsn"
        dsn = parsed_config.dsn or ""
    try:
        parsed = {key: str(value) for key, value in conninfo_to_dict(dsn).items() if value is not None}
    except DriverError:  # libpq's message quotes the string near the fault, which may be the password
        raise ValueError(
            f"the DSN from {origin} is not a libpq connection string ('host=... dbname=...') or a "
            "postgresql:// URL"
        ) from None
    inline = [key for key in SECRET_KEYWORDS if parsed.get(key)]
    if inline and parsed_config.dsn is not None:
        raise ValueError(
            f"the dsn in memory.yaml holds a {' and an '.join(inline)}: memory.yaml is not a place for secrets. "
            "Put the DSN in an environment variable and name it with dsn_env, or keep the password in "
            "PGPASSWORD or ~/.pgpass"
        )
    return PostgresSettings(
        conninfo=Secret(dsn, origin=origin),
        origin=origin,
        target=_describe(parsed),
        secrets=tuple(Secret(parsed[key], origin=f"{origin} {key}") for key in inline),
        schema=parsed_config.schema_name,
        pool=parsed_config.pool,
        connect_timeout_s=parsed_config.connect_timeout_s,
    )
