"""Crash safety: writers killed with SIGKILL at random moments lose no acknowledged write, and the store loads.

The kit's writers append as fast as they can and are killed after a random 5-100 ms (from a fixed seed: set
MEMORY_CRASH_SEED to replay another sequence), 50 times on the same database, which is reopened (recovering
the WAL a killed writer left) after each kill. Kills land while the database is opened, mid-transaction and
mid-commit; reopening may not warn at all.
"""

from __future__ import annotations

from agent_engine_core.testing import check_retention_survives_kills, check_writes_survive_kills

FACTORY = "agent_engine_memory_sqlite:build_backend"


def test_no_acknowledged_write_is_lost_when_writers_are_killed(tmp_path):
    check_writes_survive_kills(FACTORY, tmp_path)


def test_retention_deletes_survive_kills(tmp_path):
    check_retention_survives_kills(FACTORY, tmp_path)
