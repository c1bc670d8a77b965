"""The sqlite backend keeps the memory contract, lays its database out as documented, and is found by engines."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import sqlite3
from contextlib import closing

from agent_engine_core.codec import dumps
from agent_engine_core.memory import Artifact, MemoryItem, MemorySetup
from agent_engine_core.testing import check_engines_share_memory, check_memory_backend

from agent_engine_memory_sqlite import SCHEMA_VERSION, build_backend, plugin

ITEM_COLUMNS = ["seq", "id", "task_id", "project_id", "store", "payload", "created_at", "tags", "metadata"]


def test_the_backend_keeps_the_memory_contract(tmp_path):
    check_memory_backend(build_backend, tmp_path, persistent=True)


def test_the_contract_holds_in_a_configured_file_without_a_config_dir(tmp_path):
    database = tmp_path / "elsewhere" / "shared.db"

    def build(setup):
        return build_backend(dataclasses.replace(setup, project_dir=None, config={"path": str(database)}))

    check_memory_backend(build, tmp_path / "unused", persistent=True)
    assert not (tmp_path / "unused").exists()
    assert database.is_file()


def test_the_database_has_the_documented_tables_columns_and_settings(tmp_path):
    backend = build_backend(MemorySetup("project", "p1", tmp_path))
    backend.append(MemoryItem("i1", "project", "p1", dumps({"é": [1, 2.5]}), 7.0, "t1", ("a", "b"), dumps({"m": 1})))
    backend.put_artifact(Artifact("a1", "node_output", "p1", "t1", dumps("out"), 8.0, "draft", "title"))
    connection = backend._connection  # the settings are per connection: look at the backend's own
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert connection.execute("PRAGMA synchronous").fetchone() == (2,), "FULL"
    backend.close()
    with closing(sqlite3.connect(tmp_path / ".agent_engine" / "memory" / "memory.db")) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        assert tables == ["artifacts", "global_memory", "project_memory", "sqlite_sequence", "task_memory"]
        for table in ("task_memory", "project_memory", "global_memory"):
            assert [row[1] for row in db.execute(f"PRAGMA table_info({table})")] == ITEM_COLUMNS
        assert [row[1] for row in db.execute("PRAGMA table_info(artifacts)")] == [
            "seq", "id", "kind", "project_id", "task_id", "node_id", "schema", "payload", "created_at", "metadata"]
        assert db.execute("SELECT * FROM project_memory").fetchall() == [
            (1, "i1", "t1", "p1", "project", '{"é":[1,2.5]}', 7.0, '["a","b"]', '{"m":1}')]
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql NOTNULL")}
        item_tables = ("task_memory", "project_memory", "global_memory")
        assert indexes == {f"{table}_{name}" for table in item_tables for name in ("recent", "task")} | {
            f"artifacts_{name}" for name in ("recent", "task", "kind", "node", "schema")}


def test_the_engines_queries_walk_an_index_newest_first_without_sorting(tmp_path):
    backend = build_backend(MemorySetup("task", "p1", tmp_path))
    backend.close()
    plans = {
        "SELECT id FROM task_memory WHERE project_id = 'p' ORDER BY created_at DESC, seq DESC": "task_memory_recent",
        "SELECT id FROM task_memory WHERE project_id = 'p' AND task_id = 't' ORDER BY created_at DESC, seq DESC":
            "task_memory_task",
        "SELECT id FROM global_memory ORDER BY created_at DESC, seq DESC": "global_memory_recent",
        "SELECT id FROM artifacts WHERE project_id = 'p' AND kind = 'k' ORDER BY created_at DESC, seq DESC":
            "artifacts_kind",
        "SELECT id FROM artifacts WHERE project_id = 'p' AND node_id = 'n' ORDER BY created_at DESC, seq DESC":
            "artifacts_node",
        "SELECT id FROM artifacts WHERE project_id = 'p' AND \"schema\" = 's' ORDER BY created_at DESC, seq DESC":
            "artifacts_schema",
    }
    with closing(sqlite3.connect(tmp_path / ".agent_engine" / "memory" / "memory.db")) as db:
        for query, index in plans.items():
            plan = " / ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))
            assert f"USING INDEX {index}" in plan and "TEMP B-TREE" not in plan, (query, plan)


def test_the_distribution_registers_the_backend_through_its_entry_point():
    points = importlib.metadata.entry_points(group="agent_engine")
    assert [p.value for p in points if p.name == "memory-sqlite"] == ["agent_engine_memory_sqlite.plugin"]
    registered = []
    plugin.register_memory_backends(lambda name, factory: registered.append((name, factory)))
    assert registered == [("sqlite", build_backend)]


def test_memory_yaml_selects_it_and_the_next_engine_reads_what_the_last_wrote(tmp_path):
    check_engines_share_memory(tmp_path, "sqlite", config={"path": "state/memory.db"})
    assert (tmp_path / "state" / "memory.db").is_file()
