"""An engine keeping its runs in JSON Lines, killed with SIGKILL mid-way, loses no acknowledged run."""

from __future__ import annotations

import warnings

from agent_engine_core.testing import check_runs_survive_kills

from agent_engine_memory_jsonl import TornLineWarning, build_run_store


def test_an_engine_killed_mid_run_loses_no_acknowledged_run(tmp_path):
    with warnings.catch_warnings():  # a kill mid-write leaves a torn last write, skipped with this warning
        warnings.simplefilter("ignore", TornLineWarning)
        check_runs_survive_kills(build_run_store, tmp_path, "jsonl")
