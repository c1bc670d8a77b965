"""Crash safety: writers killed with SIGKILL at random moments lose no acknowledged write, and the store loads.

The kit's writers append as fast as they can and are killed after a random 5-100 ms (from a fixed seed: set
MEMORY_CRASH_SEED to replay another sequence), 50 times on the same store, which is reopened after each kill.
Kills land while the file is opened and repaired, mid-append and mid-rewrite; a torn last line is the only
thing reopening may warn about.
"""

from __future__ import annotations

from agent_engine_core.testing import check_retention_survives_kills, check_writes_survive_kills

from agent_engine_memory_jsonl import TornLineWarning

FACTORY = "agent_engine_memory_jsonl:build_backend"


def test_no_acknowledged_write_is_lost_when_writers_are_killed(tmp_path):
    check_writes_survive_kills(FACTORY, tmp_path, allowed_warnings=(TornLineWarning,))


def test_retention_rewrites_survive_kills(tmp_path):
    check_retention_survives_kills(FACTORY, tmp_path, allowed_warnings=(TornLineWarning,))
    leftovers = [p.name for p in (tmp_path / ".agent_engine" / "memory").iterdir() if p.suffix == ".tmp"]
    assert not leftovers, leftovers  # a rewrite cut short leaves its temporary file; opening removes it
