"""The built-in in-memory run store keeps the run store contract (``agent_engine_core.testing.check_run_store``)."""

from __future__ import annotations

from agent_engine_core.runs import InMemoryRunStore
from agent_engine_core.testing import check_run_store, check_run_store_property


def test_the_in_memory_run_store_keeps_the_contract(tmp_path):
    check_run_store(InMemoryRunStore, tmp_path, persistent=False,
                    default_max_runs=InMemoryRunStore.DEFAULT_MAX_RUNS)


def test_the_in_memory_run_store_lists_what_the_model_does_for_any_writes(tmp_path):
    check_run_store_property(InMemoryRunStore, tmp_path)
