"""Identifier types; task ids are derived from the run id and the lineage path, never random.

A rerun with the same run id reproduces every task id, which is what makes traces comparable byte for byte.
"""

from __future__ import annotations

import os
import random
from typing import NewType

__all__ = ["RunId", "child_task_id", "new_run_id"]

RunId = NewType("RunId", str)


_random = random.Random(os.urandom(32))
"""Where fresh run ids come from: seeded from the OS once per process, and again in every forked child.

Not ``secrets.token_hex``: ``os.urandom`` releases the GIL, and a run that lets go of the GIL waits for every
thread that wants it, the run store's writer among them (it cost a fifth of every stored run's time). Nor the
``random`` module's own generator, which an application may seed: two processes seeded alike would make the
same ids, and each run store would keep only the last run of each. A run id must be unique, not secret."""
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))


def new_run_id() -> RunId:
    """A fresh run id for callers that did not choose one (the only random id the engine makes)."""
    return RunId(f"run-{_random.getrandbits(64):016x}")


def child_task_id(parent: str, node_id: str, index: int) -> str:
    """The id of child ``index`` created by ``node_id`` in task ``parent``: ``<parent>/<node>#<index>``.

    A task visits a node at most once (the DAG is acyclic), so ``(node, index)`` is unique among its children.
    """
    return f"{parent}/{node_id}#{index}"
