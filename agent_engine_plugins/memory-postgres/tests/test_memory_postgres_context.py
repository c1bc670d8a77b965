"""Context assembly over this backend keeps every policy's rule, for any items written in any order (Hypothesis)."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any

from agent_engine_core.memory import MemoryBackend, MemorySetup
from agent_engine_core.testing import check_context_retrieval

from agent_engine_memory_postgres.plugin import build_backend


def test_context_policies_keep_their_rules_over_this_backend(config: dict[str, Any]) -> None:
    schemas: dict[Path | None, str] = {}  # the check starts each example in fresh folders: a fresh schema each

    def build(setup: MemorySetup) -> MemoryBackend:
        schema = schemas.setdefault(setup.project_dir, f"t_{uuid.uuid4().hex[:16]}")
        return build_backend(dataclasses.replace(setup, config={**config, "schema": schema}))

    check_context_retrieval(build, max_examples=25)
