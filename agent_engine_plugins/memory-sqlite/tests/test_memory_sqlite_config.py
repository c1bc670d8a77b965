"""Where the database goes, and misconfiguration refused when the backend is built, with the path in the message."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing

import pytest
from agent_engine_core.memory import MemoryItem, MemorySetup
from agent_engine_core.testing import check_memory_yaml_refused

from agent_engine_memory_sqlite import SCHEMA_VERSION, build_backend


def setup(project_dir, store="project", **config):
    return MemorySetup(store, "p1", project_dir, config=config)


def test_the_database_goes_under_the_config_dir_by_default_or_at_a_relative_path_from_it(tmp_path):
    default = build_backend(setup(tmp_path))
    moved = build_backend(setup(tmp_path, "global", path="state/shared.db"))
    assert default.path == tmp_path / ".agent_engine" / "memory" / "memory.db"
    assert moved.path == tmp_path / "state" / "shared.db"
    assert moved.path.is_file()
    default.close()
    moved.close()


def test_without_a_config_dir_a_path_is_required(tmp_path):
    with pytest.raises(ValueError, match=r"the sqlite backend of the task store has no place for its database "
                                         r"file: the manifests were not loaded from a config dir, so set "
                                         r"config\.path"):
        build_backend(setup(None, "task"))
    backend = build_backend(setup(None, "task", path=str(tmp_path / "abs.db")))
    backend.append(MemoryItem("a", "task", "p1", "1", 1.0))
    backend.close()
    assert (tmp_path / "abs.db").is_file()


@pytest.mark.parametrize(("config", "message"), [
    pytest.param({"file": "x"}, r"unknown config key 'file'; the sqlite memory backend accepts path", id="unknown"),
    pytest.param({"path": ""}, r"config\.path must be a database file path \(text\), got ''", id="empty"),
    pytest.param({"path": ["a"]}, r"config\.path must be a database file path \(text\), got \['a'\]", id="not-text"),
])
def test_bad_config_is_refused(tmp_path, config, message):
    with pytest.raises(ValueError, match=message):
        build_backend(setup(tmp_path, **config))


def test_a_folder_is_not_a_database(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(ValueError, match=rf"config\.path '{tmp_path}/data' is a folder; point it at the database "
                                         r"file \(memory\.db\)"):
        build_backend(setup(tmp_path, path="data"))


def test_a_path_under_a_file_is_refused_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(ValueError, match=rf"cannot create the folder of the SQLite memory database "
                                         rf"{tmp_path}/notes\.txt/memory\.db"):
        build_backend(setup(tmp_path, path="notes.txt/memory.db"))


@pytest.mark.parametrize("content", [
    pytest.param(b"this is not a database, just text " * 200, id="text"),
    pytest.param(b"SQLite format 3\x00" + b"\xff" * 4000, id="damaged-header"),
])
def test_a_corrupt_database_file_is_refused_naming_it(tmp_path, content):
    (tmp_path / "memory.db").write_bytes(content)
    with pytest.raises(ValueError, match=rf"cannot use {tmp_path}/memory\.db as the SQLite memory database \(.*\): it "
                                         "must be a SQLite database"):
        build_backend(setup(tmp_path, path="memory.db"))
    assert (tmp_path / "memory.db").read_bytes() == content, "the damaged file is left as it was"


def test_an_unwritable_folder_is_refused_when_the_backend_is_built(locked_dir):
    with pytest.raises(ValueError, match=rf"cannot use {locked_dir.path}/memory\.db as the SQLite memory database "
                                         r"\(unable to open database file\)"):
        build_backend(setup(locked_dir.path, path="memory.db"))
    with pytest.raises(ValueError, match=rf"cannot create the folder of the SQLite memory database "
                                         rf"{locked_dir.path}/sub/memory\.db"):
        build_backend(setup(locked_dir.path, path="sub/memory.db"))


def test_a_database_in_a_folder_that_became_unwritable_is_refused(locked_dir):
    locked_dir.unlock()
    build_backend(setup(locked_dir.path, path="memory.db")).close()
    assert locked_dir.lock()
    with pytest.raises(ValueError, match=rf"cannot use {locked_dir.path}/memory\.db as the SQLite memory database"):
        build_backend(setup(locked_dir.path, path="memory.db"))


def test_schema_creation_is_idempotent_and_a_newer_schema_is_refused(tmp_path):
    for _ in range(2):
        build_backend(setup(tmp_path, path="memory.db")).close()
    with closing(sqlite3.connect(tmp_path / "memory.db", isolation_level=None)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ValueError, match=rf"memory\.db holds memory schema version {SCHEMA_VERSION + 1}, newer than "
                                         r"this agent-engine-memory-sqlite understands"):
        build_backend(setup(tmp_path, path="memory.db"))


def test_a_misconfigured_store_is_a_manifest_error_of_memory_yaml(tmp_path):
    (tmp_path / "memory.db").write_bytes(b"not a database " * 100)
    check_memory_yaml_refused(
        tmp_path, "memory:\n  global_store: {backend: sqlite, config: {path: memory.db}}\n",
        match=re.escape(f"cannot use {tmp_path}/memory.db as the SQLite memory database"))
