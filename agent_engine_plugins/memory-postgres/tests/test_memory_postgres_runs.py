"""The postgres run store keeps the run store contract, in the runs table of the configured schema."""

from __future__ import annotations

import dataclasses

import pytest
from agent_engine_core.runs import RunStore, RunStoreSetup, RunSummary, StoredRun
from agent_engine_core.testing import check_run_store, check_run_store_property

from agent_engine_memory_postgres.plugin import build_run_store


@pytest.fixture
def build(config):
    opened: list[RunStore] = []

    def make(setup: RunStoreSetup) -> RunStore:
        store = build_run_store(dataclasses.replace(setup, config=config))
        opened.append(store)
        return store

    yield make
    for store in opened:  # the checks close what they finish with; a failed check leaves the rest open
        store.close()


def test_the_postgres_run_store_keeps_the_contract(build, tmp_path):
    check_run_store(build, tmp_path, persistent=True, default_max_runs=10_000)


def test_the_postgres_run_store_lists_what_the_model_does_for_any_writes(build, tmp_path):
    check_run_store_property(build, tmp_path, max_examples=15)


def test_run_ids_tie_break_by_code_point_whatever_the_database_collation(build, tmp_path):
    store = build(RunStoreSetup("p", None, None, {}))
    ids = ["B", "a", "Z", "_", "é", "ä"]
    store.write([StoredRun(RunSummary(i, "succeeded", 1.0, 0.0, 0, 0, "d"), "{}") for i in ids])
    assert [s.run_id for s in store.runs()] == sorted(ids, reverse=True)


def test_unknown_config_keys_are_refused(config):
    with pytest.raises(ValueError, match=r"invalid postgres backend config: path: Extra inputs are not permitted"):
        build_run_store(RunStoreSetup("p", None, None, {**config, "path": "runs.db"}))


def test_a_database_at_layout_version_1_gains_the_runs_table_and_keeps_its_memory(postgres_server, config, schema):
    from agent_engine_core.memory import MemorySetup

    from agent_engine_memory_postgres._schema import _version_1
    from agent_engine_memory_postgres.plugin import build_backend

    with postgres_server.admin() as conn:  # the layout the previous release created
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".schema_version (version integer PRIMARY KEY, applied_at timestamptz '
                     "NOT NULL DEFAULT now(), applied_by text NOT NULL)")
        for statement in _version_1(f'"{schema}"'):
            conn.execute(statement)
        conn.execute(f"INSERT INTO \"{schema}\".schema_version (version, applied_by) VALUES (1, 'old')")
        conn.execute(f"INSERT INTO \"{schema}\".project_memory (id, project_id, store, payload, created_at) "
                     "VALUES ('kept', 'p1', 'project', '1', 1.0)")
    store = build_run_store(RunStoreSetup("p1", None, None, config))
    store.write([StoredRun(RunSummary("r", "succeeded", 1.0, 0.0, 0, 0, "d"), "{}")])
    assert [s.run_id for s in store.runs()] == ["r"]
    store.close()
    memory = build_backend(MemorySetup("project", "p1", None, config=config))
    assert [i.id for i in memory.query()] == ["kept"]
    memory.close()
    with postgres_server.admin() as conn:
        versions = conn.execute(f'SELECT version FROM "{schema}".schema_version ORDER BY version').fetchall()
    assert versions == [(1,), (2,), (3,)]  # and on to the journal tables (version 3)
