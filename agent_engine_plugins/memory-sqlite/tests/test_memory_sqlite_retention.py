"""Retention keeps exactly ``max_items``, the newest of the scope, for any appends and bounds (Hypothesis).

A model (a plain list) runs beside the backend: appends in any ``created_at`` order (ties included), to two
projects, under a bound that changes each time the store is reopened. After every batch, and after every
reopen, each project's queries (any task, tags, limit) must answer what the model does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from agent_engine_core._json import dumps
from agent_engine_core.memory import MemoryItem, MemorySetup, select_items
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_memory_sqlite import build_backend

PROJECTS = ("p1", "p2")

appends = st.tuples(st.sampled_from(PROJECTS), st.sampled_from(["t1", "t2"]),
                    st.frozensets(st.sampled_from("abc")), st.integers(0, 6))
phases = st.lists(st.tuples(st.none() | st.integers(1, 5), st.lists(appends, min_size=1, max_size=8)),
                  min_size=1, max_size=4)
queries = st.lists(st.tuples(st.none() | st.sampled_from(["t1", "t2"]), st.frozensets(st.sampled_from("abcd")),
                             st.none() | st.integers(1, 4)), max_size=3)

Stored = list[tuple[int, MemoryItem]]


def scope(stored: Stored, project: str, *, shared: bool) -> list[MemoryItem]:
    """The project's items (every item, for the global store) in query order."""
    mine = [(item.created_at, seq, item) for seq, item in stored if shared or item.project_id == project]
    return [item for _, _, item in sorted(mine, key=lambda entry: entry[:2])]


def retain(stored: Stored, project: str, bound: int, *, shared: bool) -> Stored:
    """The model's retention: the oldest items of the scope beyond ``bound`` go."""
    in_scope = scope(stored, project, shared=shared)
    dropped = {item.id for item in in_scope[: max(0, len(in_scope) - bound)]}
    return [(seq, item) for seq, item in stored if item.id not in dropped]


@settings(max_examples=40, deadline=None)
@given(store=st.sampled_from(["task", "project", "global"]), phases=phases, queries=queries)
def test_retention_keeps_exactly_the_newest_max_items_of_the_scope(store, phases, queries):
    shared = store == "global"
    stored: Stored = []
    count = 0
    with tempfile.TemporaryDirectory() as folder:
        for bound, batch in phases:
            backends = {p: build_backend(MemorySetup(store, p, Path(folder), max_items=bound)) for p in PROJECTS}
            for project in PROJECTS:
                assert backends[project].query() == scope(stored, project, shared=shared), "after a reopen"
            for project, task, tags, at in batch:
                item = MemoryItem(f"i{count}", store, project, dumps({"at": at}), float(at), task, tuple(sorted(tags)))
                backends[project].append(item)
                stored.append((count, item))
                count += 1
                if bound is not None:
                    stored = retain(stored, project, bound, shared=shared)
            for project in PROJECTS:
                expected = scope(stored, project, shared=shared)
                assert backends[project].query() == expected
                if bound is not None and (shared or project in {append[0] for append in batch}):
                    assert len(expected) <= bound, "retention applies to the scope an append went to"
                for task, tags, limit in queries:
                    assert backends[project].query(task_id=task, tags=sorted(tags), limit=limit) == select_items(
                        expected, task_id=task, tags=sorted(tags), limit=limit)
            for backend in backends.values():
                backend.close()
