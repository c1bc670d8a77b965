"""A real, throwaway PostgreSQL server for the session: ``initdb`` into a temporary folder, ``pg_ctl start``.

The server binaries come from ``pg_config --bindir`` or ``/usr/lib/postgresql/<version>/bin``; without them the
session fails (install the ``postgresql`` Debian package: CI does) -- it never skips, and never falls back to
anything else. PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` system user
(``runuser``), in a folder owned by it, outside pytest's root-only temporary folder. It listens on 127.0.0.1 at a
free port and on a Unix socket in that folder; clients authenticate by ``trust``, except the role ``agent_pw``,
which must give its password (SCRAM) over TCP -- the credential tests use it. The server is stopped
(``pg_ctl stop -m fast``) and the folder removed when the session ends, whatever happened.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from agent_engine_core.memory import MemorySetup
from agent_engine_core.testing import CANARY_ENV, SecretLedger, closed_after
from psycopg import sql

from agent_engine_memory_postgres.plugin import build_backend

DATABASE = "agent_engine_test"
PASSWORD_ROLE = "agent_pw"
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found: install the `postgresql` Debian package "
    "(apt-get install -y postgresql; CI's .ci/run installs it) to run agent-engine-memory-postgres's tests"
)


def _bindir() -> Path:
    candidates = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True, timeout=10)
        candidates.append(Path(found.stdout.strip()))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += map(Path, versions)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    pytest.fail(INSTALL_HINT, pytrace=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (a server that is down)."""
    return _free_port()


@dataclass(frozen=True)
class PostgresServer:
    """The session's server: where it listens, and an admin (superuser) connection to any database."""

    host: str
    port: int
    socket_dir: Path
    log_file: Path

    def dsn(self, dbname: str = DATABASE, user: str = "postgres", **more: Any) -> str:
        extra = "".join(f" {key}={value}" for key, value in more.items())
        return f"host={self.host} port={self.port} dbname={dbname} user={user}{extra}"

    def admin(self, dbname: str = DATABASE) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, dbname=dbname, user="postgres", autocommit=True
        )

    def create_database(self, name: str, **settings: str) -> str:
        """A new empty database (``ALTER DATABASE ... SET`` each setting); its DSN."""
        with self.admin("postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(name)))
            for key, value in settings.items():
                conn.execute(
                    sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                        sql.Identifier(name), sql.Identifier(key), sql.Literal(value)
                    )
                )
        return self.dsn(name)


def _as_postgres(postgres_user: pwd.struct_passwd | None) -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if postgres_user is not None else []


def _run(command: list[str], log_file: Path | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        server_log = log_file.read_text(errors="replace")[-2000:] if log_file and log_file.exists() else ""
        pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{server_log}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start the session's server; stop it and remove its folder at the end (also when the session fails)."""
    bindir = _bindir()
    postgres_user = None
    if os.geteuid() == 0:
        try:
            postgres_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("tests run as root, and PostgreSQL refuses root: create the `postgres` system user "
                        "(the `postgresql` Debian package does)", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="agent-engine-pg-"))
    data, sockets, log_file = root / "data", root / "run", root / "server.log"
    sockets.mkdir()
    if postgres_user is not None:
        for path in (root, sockets):
            os.chown(path, postgres_user.pw_uid, postgres_user.pw_gid)
    as_postgres = _as_postgres(postgres_user)
    port = _free_port()
    started = False
    try:
        _run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
              "-E", "UTF8", "--locale=C", "--no-sync"])
        (data / "pg_hba.conf").write_text(  # the password role over TCP must authenticate; everyone else is trusted
            "local all all trust\n"
            f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n"
        )
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=200"
        started = True
        _run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log_file), "-o", options, "-w",
              "-t", "30", "start"], log_file)
        server = PostgresServer(host="127.0.0.1", port=port, socket_dir=sockets, log_file=log_file)
        with server.admin("postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(DATABASE)))
        yield server
    finally:
        if started:
            subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def schema() -> str:
    """A schema name no other test uses: each test starts from empty tables."""
    return f"t_{uuid.uuid4().hex[:16]}"


@pytest.fixture
def config(postgres_server: PostgresServer, schema: str) -> dict[str, Any]:
    """A store config pointing at the session's database and this test's schema (the DSN inline: no password)."""
    return {"dsn": postgres_server.dsn(), "schema": schema, "pool": {"min_size": 0, "max_size": 4}}


@pytest.fixture
def make_backend(config: dict[str, Any]) -> Iterator[Callable[..., Any]]:
    """``make_backend(store, project="p1", max_items=None, **config_overrides)``: backends closed after the test."""

    def make(store: str = "project", project: str = "p1", max_items: int | None = None, **overrides: Any) -> Any:
        return build_backend(MemorySetup(store=store, project_id=project, project_dir=None, max_items=max_items,
                                         config={**config, **overrides}))

    yield from closed_after(make)


@pytest.fixture
def password_role(postgres_server: PostgresServer, secret_ledger: SecretLedger) -> tuple[str, str]:
    """The role that must log in with a password, and that password: the session's canary secret."""
    password = os.environ[CANARY_ENV]
    with postgres_server.admin() as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [PASSWORD_ROLE]).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(PASSWORD_ROLE), sql.Literal(password)))
            conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(DATABASE), sql.Identifier(PASSWORD_ROLE)))
    return PASSWORD_ROLE, password
