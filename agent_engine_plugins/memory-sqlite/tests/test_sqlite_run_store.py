"""The sqlite run store keeps the run store contract, refuses bad config, and is shared by processes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from agent_engine_core.runs import RunStoreSetup, RunSummary, StoredRun
from agent_engine_core.testing import check_run_store, check_run_store_property

from agent_engine_memory_sqlite import DEFAULT_MAX_RUNS, build_run_store


def test_the_sqlite_run_store_keeps_the_contract(tmp_path):
    check_run_store(build_run_store, tmp_path, persistent=True, default_max_runs=DEFAULT_MAX_RUNS)


def test_the_sqlite_run_store_lists_what_the_model_does_for_any_writes(tmp_path):
    check_run_store_property(build_run_store, tmp_path, max_examples=25)


def test_the_database_is_under_the_config_dir_unless_config_names_a_path(tmp_path):
    build_run_store(RunStoreSetup("p", tmp_path, None, {})).close()
    assert (tmp_path / ".agent_engine" / "runs.db").is_file()
    build_run_store(RunStoreSetup("p", tmp_path, None, {"path": "elsewhere/r.db"})).close()
    assert (tmp_path / "elsewhere" / "r.db").is_file()


@pytest.mark.parametrize(("base_dir", "config", "match"), [
    (None, {}, r"no place for its database.*config: \{path"),
    ("tmp", {"path": "r.db", "dsn": "x"}, r"unknown config key 'dsn' in runs:; the sqlite run store accepts path"),
    ("tmp", {"path": 3}, r"config.path must be a database file path \(text\), got 3"),
    ("tmp", {"path": "."}, r"is a folder"),
])
def test_bad_config_is_refused_with_what_to_change(tmp_path, base_dir, config, match):
    with pytest.raises(ValueError, match=match):
        build_run_store(RunStoreSetup("p", tmp_path if base_dir else None, None, config))


def test_a_file_that_is_not_a_database_is_refused_naming_it(tmp_path):
    (tmp_path / "runs.db").write_text("not a database" * 100)
    with pytest.raises(ValueError, match=r"cannot use .*runs\.db as the SQLite run database"):
        build_run_store(RunStoreSetup("p", tmp_path, None, {"path": "runs.db"}))


def test_a_database_of_another_table_layout_is_refused_not_written_into(tmp_path):
    store = build_run_store(RunStoreSetup("p", tmp_path, None, {"path": "runs.db"}))
    store.write([_stored("a", 1.0)])
    store.close()
    with sqlite3.connect(tmp_path / "runs.db") as connection:
        connection.execute("PRAGMA user_version = 7")
    with pytest.raises(ValueError, match=r"runs\.db holds runs in table layout 7, and this .* writes layout 1"):
        build_run_store(RunStoreSetup("p", tmp_path, None, {"path": "runs.db"}))


def test_projects_sharing_a_database_see_only_their_own_runs(tmp_path):
    first, second = (build_run_store(RunStoreSetup(p, tmp_path, 1, {})) for p in ("p1", "p2"))
    first.write([_stored("a", 1.0)])
    second.write([_stored("b", 2.0), _stored("c", 3.0)])
    assert [s.run_id for s in first.runs()] == ["a"], "another project's retention leaves this one alone"
    assert [s.run_id for s in second.runs()] == ["c"]
    assert first.get("c") is None
    first.close()
    second.close()


def test_a_closed_store_refuses_work(tmp_path):
    store = build_run_store(RunStoreSetup("p", tmp_path, None, {}))
    store.close()
    store.close()
    with pytest.raises(ValueError, match=r"run store .* is closed"):
        store.runs()
    with pytest.raises(ValueError, match=r"run store .* is closed"):
        store.write([_stored("a", 1.0)])


def _stored(run_id: str, started_at: float) -> StoredRun:
    summary = RunSummary(run_id, "succeeded", started_at, 0.5, 3, 10, f"sha256:{run_id}")
    return StoredRun(summary, json.dumps({"format": 1, "run": run_id}))


_CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from agent_engine_core.runs import RunStoreSetup, RunSummary, StoredRun
    from agent_engine_memory_sqlite import build_run_store

    base, prefix, batches = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = build_run_store(RunStoreSetup("p", base, None, {}))
    seen = [s.run_id for s in store.runs()]
    for b in range(batches):
        store.write([StoredRun(RunSummary(f"{prefix}-{b}-{k}", "succeeded", float(b), 0.1, 1, 1, "d"),
                               json.dumps({"format": 1, "b": b, "k": k})) for k in range(4)])
    store.close()
    print(json.dumps(seen))
""")


def _child(tmp_path, prefix: str, batches: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path), prefix, str(batches)],
                            stdout=subprocess.PIPE, text=True)


def test_processes_share_the_database_while_another_holds_it_open(tmp_path):
    held = build_run_store(RunStoreSetup("p", tmp_path, None, {}))
    held.write([_stored("parent", 100.0)])
    writers = [_child(tmp_path, name, 30) for name in ("left", "right")]
    listings = []
    while any(w.poll() is None for w in writers):
        listings.append({s.run_id for s in held.runs()})
    outputs = [w.communicate()[0] for w in writers]
    assert [w.returncode for w in writers] == [0, 0]
    for output in outputs:
        assert "parent" in json.loads(output), "a child process sees what this process wrote"
    for listing in listings:
        for name in ("left", "right"):
            for b in range(30):
                batch = {f"{name}-{b}-{k}" for k in range(4)}
                assert batch <= listing or not batch & listing, "a reader in another process saw part of a write"
    ids = {s.run_id for s in held.runs()}
    assert ids == {"parent"} | {f"{n}-{b}-{k}" for n in ("left", "right") for b in range(30) for k in range(4)}
    got = held.get("left-7-2")
    assert got is not None
    assert json.loads(got.document_json) == {"format": 1, "b": 7, "k": 2}
    held.close()
