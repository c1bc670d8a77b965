"""A store that cannot work is an error when the backend is built, named by server -- never by password.

The password used throughout is the session's canary secret (``agent_engine_core.testing``'s ``secret_ledger``):
every message is handed to the ledger, which fails the session if the canary shows up anywhere.
"""

from __future__ import annotations

import pytest
from agent_engine_core.memory import MemoryItem, MemorySetup
from psycopg import sql

from agent_engine_memory_postgres import SCHEMA_VERSION, resolve_settings
from agent_engine_memory_postgres.plugin import build_backend


def _build(config, store="project"):
    return build_backend(MemorySetup(store=store, project_id="p1", project_dir=None, config=config))


def _refused(config, error, secret_ledger, *, env=None, monkeypatch=None):
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    with pytest.raises(error) as caught:
        _build(config).close()
    text = str(caught.value)
    secret_ledger.add(text, repr(caught.value))
    assert secret_ledger.canary not in text
    exc = caught.value
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), "no driver error chained"
    return text


def test_an_unreachable_server_is_an_error_naming_host_port_and_database(unused_port, secret_ledger):
    port = unused_port
    text = _refused({"dsn": f"host=127.0.0.1 port={port} dbname=memdb user=engine"}, ConnectionError,
                    secret_ledger)
    assert f"host 127.0.0.1 port {port} database memdb user engine" in text
    assert "project memory store" in text and "refused" in text.lower()


def test_wrong_credentials_are_an_error_that_never_shows_the_password(
    postgres_server, password_role, monkeypatch, secret_ledger
):
    role, password = password_role
    wrong = password[::-1]
    dsn = f"postgresql://{role}:{wrong}@{postgres_server.host}:{postgres_server.port}/agent_engine_test"
    text = _refused({"dsn_env": "PG_MEMORY_DSN"}, ConnectionError, secret_ledger,
                    env={"PG_MEMORY_DSN": dsn}, monkeypatch=monkeypatch)
    assert f"host {postgres_server.host} port {postgres_server.port} database agent_engine_test user {role}" in text
    assert "password authentication failed" in text and "$PG_MEMORY_DSN" in text
    assert wrong not in text and password not in text


def test_the_right_password_from_the_environment_works(postgres_server, password_role, monkeypatch, schema):
    role, password = password_role
    monkeypatch.setenv("PG_MEMORY_DSN", postgres_server.dsn(user=role, password=password))
    backend = _build({"dsn_env": "PG_MEMORY_DSN", "schema": schema})
    assert password not in repr(backend)
    assert backend.query() == []
    backend.close()


@pytest.mark.parametrize("form", ["keywords", "url"])
@pytest.mark.parametrize("keyword", ["password", "sslpassword"])
def test_a_password_written_in_memory_yaml_is_refused_without_being_repeated(
    postgres_server, password_role, secret_ledger, form, keyword
):
    role, password = password_role
    dsn = (postgres_server.dsn(user=role, **{keyword: password}) if form == "keywords"
           else f"postgresql://{role}@{postgres_server.host}:{postgres_server.port}/agent_engine_test?{keyword}={password}")
    text = _refused({"dsn": dsn}, ValueError, secret_ledger)
    assert f"holds a {keyword}" in text and "dsn_env" in text
    assert password not in text


def test_an_unparsable_dsn_is_refused_without_quoting_it(secret_ledger):
    text = _refused({"dsn": f"host=db {secret_ledger.canary}"}, ValueError, secret_ledger)
    assert "not a libpq connection string" in text


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "exactly one of dsn and dsn_env"),
        ({"dsn": "host=x", "dsn_env": "X"}, "exactly one of dsn and dsn_env"),
        ({"dsn": ""}, "dsn:"),
        ({"dsn_env": "host=x dbname=y"}, "dsn_env must be the name of an environment variable"),
        ({"dsn": "host=x", "schema": "Bad-Name"}, "schema must be a lower-case SQL name"),
        ({"dsn": "host=x", "pool": {"min_size": 5, "max_size": 2}}, "max_size must be at least min_size"),
        ({"dsn": "host=x", "pool": {"max": 3}}, "pool.max: Extra inputs are not permitted"),
        ({"dsn": "host=x", "connect_timeout_s": 1}, "connect_timeout_s:"),
        ({"dsn": "host=x", "tables": "mine"}, "tables: Extra inputs are not permitted"),
        (["host=x"], "must be a mapping"),
    ],
)
def test_an_invalid_config_is_a_value_error_naming_the_field(config, expected):
    with pytest.raises(ValueError) as caught:
        resolve_settings(config, environ={})
    assert expected in str(caught.value)


def test_a_missing_dsn_variable_is_named():
    with pytest.raises(ValueError, match="PG_NOT_SET") as caught:
        resolve_settings({"dsn_env": "PG_NOT_SET"}, environ={})
    assert "not set" in str(caught.value)


def test_a_bad_retention_bound_is_refused(config):
    with pytest.raises(ValueError, match="max_items"):
        build_backend(MemorySetup(store="task", project_id="p1", project_dir=None, max_items=0, config=config))


def test_a_database_that_is_not_utf8_is_refused(postgres_server):
    with postgres_server.admin("postgres") as conn:
        conn.execute("CREATE DATABASE latin_memory ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    with pytest.raises(ValueError, match="UTF8"):
        _build({"dsn": postgres_server.dsn("latin_memory")})


def test_a_database_that_acknowledges_commits_before_they_are_durable_is_refused(postgres_server):
    dsn = postgres_server.create_database("async_commits", synchronous_commit="off")
    with pytest.raises(ValueError, match="synchronous_commit"):
        _build({"dsn": dsn})
    backend = _build({"dsn": f"{dsn} options='-c synchronous_commit=on'"})  # the fix the message suggests
    backend.close()


def test_a_schema_written_by_a_newer_release_is_refused(postgres_server, config, schema):
    _build(config).close()
    with postgres_server.admin() as conn:
        conn.execute(sql.SQL("INSERT INTO {}.schema_version (version, applied_by) VALUES (%s, 'future')").format(
            sql.Identifier(schema)), [SCHEMA_VERSION + 1])
    with pytest.raises(ValueError, match="newer"):
        _build(config)


def test_a_role_without_ddl_rights_can_use_tables_created_beforehand(postgres_server, config, schema):
    _build(config).close()  # the tables, created by a privileged role (the superuser here)
    with postgres_server.admin() as conn:
        conn.execute("CREATE ROLE memory_rw LOGIN")
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO memory_rw").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA {} TO memory_rw").format(
            sql.Identifier(schema)))
        conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO memory_rw").format(sql.Identifier(schema)))
    try:
        backend = _build({**config, "dsn": postgres_server.dsn(user="memory_rw")}, store="task")
        try:
            backend.append(MemoryItem("a", "task", "p1", "1", 1.0))
            assert [i.id for i in backend.query()] == ["a"]
        finally:
            backend.close()
        other = f"{schema}_new"
        with pytest.raises(ValueError, match="permission denied"):
            _build({**config, "dsn": postgres_server.dsn(user="memory_rw"), "schema": other})
    finally:
        with postgres_server.admin() as conn:
            conn.execute("DROP OWNED BY memory_rw")
            conn.execute("DROP ROLE memory_rw")
