"""Context assembly over this backend keeps every policy's rule, for any items written in any order (Hypothesis)."""

from __future__ import annotations

from agent_engine_core.testing import check_context_retrieval

from agent_engine_memory_sqlite import build_backend


def test_context_policies_keep_their_rules_over_this_backend():
    check_context_retrieval(build_backend)
