"""The tables are the documented ones, created once, and the queries the backend makes can use an index."""

from __future__ import annotations

import pytest
from agent_engine_core.memory import Artifact, MemoryItem, MemorySetup
from psycopg import sql

from agent_engine_memory_postgres.plugin import build_backend

MEMORY_COLUMNS = [
    ("seq", "bigint"), ("id", "text"), ("task_id", "text"), ("project_id", "text"), ("store", "text"),
    ("payload", "json"), ("created_at", "double precision"), ("tags", "ARRAY"), ("metadata", "json"),
]
ARTIFACT_COLUMNS = [
    ("seq", "bigint"), ("id", "text"), ("kind", "text"), ("project_id", "text"), ("task_id", "text"),
    ("node_id", "text"), ("schema", "text"), ("payload", "json"), ("created_at", "double precision"),
    ("metadata", "json"),
]


def _columns(conn, schema, table):
    return conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position", [schema, table]).fetchall()


def test_the_tables_and_columns_are_the_documented_ones(make_backend, postgres_server, schema):
    make_backend("task")
    with postgres_server.admin() as conn:
        tables = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                              "ORDER BY table_name", [schema]).fetchall()
        assert [t for (t,) in tables] == ["artifacts", "global_memory", "journal_entries", "journal_runs",
                                          "project_memory", "runs", "schema_version", "task_memory"]
        for table in ("task_memory", "project_memory", "global_memory"):
            assert _columns(conn, schema, table) == MEMORY_COLUMNS
        assert _columns(conn, schema, "artifacts") == ARTIFACT_COLUMNS


def test_building_again_changes_nothing(make_backend, postgres_server, schema):
    make_backend("task").append(MemoryItem("a", "task", "p1", "1", 1.0))
    with postgres_server.admin() as conn:
        before = conn.execute("SELECT version, applied_at FROM " + schema + ".schema_version").fetchall()
    again = make_backend("task")
    assert [i.id for i in again.query()] == ["a"]
    with postgres_server.admin() as conn:
        assert conn.execute("SELECT version, applied_at FROM " + schema + ".schema_version").fetchall() == before


@pytest.mark.parametrize(
    ("table", "where", "index"),
    [
        ("task_memory", "project_id = 'p1' ORDER BY created_at DESC, seq DESC LIMIT 5", "task_memory_scope"),
        ("task_memory", "project_id = 'p1' AND task_id = 't1' ORDER BY created_at, seq", "task_memory_task"),
        ("project_memory", "tags && ARRAY['style']", "project_memory_tags"),
        ("global_memory", "TRUE ORDER BY created_at DESC, seq DESC OFFSET 3", "global_memory_scope"),
        ("artifacts", "project_id = 'p1' AND kind = 'node_output' ORDER BY created_at, seq", "artifacts_kind"),
        ("artifacts", "project_id = 'p1' AND node_id = 'n' ORDER BY created_at, seq", "artifacts_node"),
        ("artifacts", "project_id = 'p1' AND \"schema\" = 's' ORDER BY created_at, seq", "artifacts_schema"),
        ("artifacts", "project_id = 'p1' AND task_id = 't' ORDER BY created_at, seq", "artifacts_task"),
    ],
)
def test_each_query_shape_has_an_index(make_backend, postgres_server, schema, table, where, index):
    backend = make_backend("project")
    backend.append(MemoryItem("a", "project", "p1", "1", 1.0, "t1", ("style",)))
    backend.put_artifact(Artifact("ar", "node_output", "p1", "t", "1", 1.0, "n", "s"))
    with postgres_server.admin() as conn, conn.transaction():
        # tiny tables: ask whether an index serves the query, in the order asked for
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_sort = off")
        plan = conn.execute(f"EXPLAIN SELECT seq FROM {schema}.{table} WHERE {where}").fetchall()
    assert index in "\n".join(line for (line,) in plan)


def test_a_role_with_create_on_an_existing_schema_only_can_create_the_tables(postgres_server, config, schema):
    with postgres_server.admin() as conn:
        conn.execute("CREATE ROLE schema_owner_only LOGIN")
        conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION schema_owner_only").format(sql.Identifier(schema)))
    try:
        setup = MemorySetup(store="task", project_id="p1", project_dir=None,
                            config={**config, "dsn": postgres_server.dsn(user="schema_owner_only")})
        backend = build_backend(setup)
        backend.append(MemoryItem("a", "task", "p1", "1", 1.0))
        assert [i.id for i in backend.query()] == ["a"]
        backend.close()
    finally:
        with postgres_server.admin() as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            conn.execute("DROP ROLE schema_owner_only")
