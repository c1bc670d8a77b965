"""Retention keeps exactly ``max_items``, the newest of the scope, for any appends and bounds (Hypothesis)."""

from __future__ import annotations

from agent_engine_core.testing import check_retention_property

from agent_engine_memory_jsonl import build_backend


def test_retention_keeps_exactly_the_newest_max_items_of_the_scope():
    check_retention_property(build_backend)
