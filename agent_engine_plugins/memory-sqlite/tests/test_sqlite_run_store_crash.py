"""An engine keeping its runs in SQLite, killed with SIGKILL mid-way, loses no acknowledged run."""

from __future__ import annotations

from agent_engine_core.testing import check_runs_survive_kills

from agent_engine_memory_sqlite import build_run_store


def test_an_engine_killed_mid_run_loses_no_acknowledged_run(tmp_path):
    check_runs_survive_kills(build_run_store, tmp_path, "sqlite")
