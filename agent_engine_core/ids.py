"""Identifier types; task ids are derived from the run id and the lineage path, never random.

A rerun with the same run id reproduces every task id, which is what makes traces comparable byte for byte.
"""

from __future__ import annotations

import secrets
from typing import NewType

__all__ = ["RunId", "child_task_id", "new_run_id"]

RunId = NewType("RunId", str)


def new_run_id() -> RunId:
    """A fresh run id for callers that did not choose one (the only random id the engine makes)."""
    return RunId(f"run-{secrets.token_hex(8)}")


def child_task_id(parent: str, node_id: str, index: int) -> str:
    """The id of child ``index`` created by ``node_id`` in task ``parent``: ``<parent>/<node>#<index>``.

    A task visits a node at most once (the DAG is acyclic), so ``(node, index)`` is unique among its children.
    """
    return f"{parent}/{node_id}#{index}"
