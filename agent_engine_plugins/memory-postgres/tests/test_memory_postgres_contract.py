"""The backend keeps the memory contract (``check_memory_backend``) and stores items and artifacts exactly."""

from __future__ import annotations

import dataclasses
import itertools
import json

import psycopg
from agent_engine_core.memory import Artifact, MemoryBackend, MemoryItem, MemorySetup
from agent_engine_core.testing import check_memory_backend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_memory_postgres.plugin import build_backend

_projects = itertools.count()


def test_the_backend_passes_the_memory_conformance_check(config, tmp_path):
    opened: list[MemoryBackend] = []

    def build(setup: MemorySetup) -> MemoryBackend:
        backend = build_backend(dataclasses.replace(setup, config=config))
        opened.append(backend)
        return backend

    try:
        check_memory_backend(build, tmp_path, persistent=True)
    finally:
        for backend in opened:  # the check closes what it finishes with; a failed check leaves the rest open
            backend.close()


def test_payload_text_comes_back_byte_for_byte_and_sql_can_read_it(make_backend, postgres_server, schema):
    text = '{"z": 1,  "a": [1.0, 1e3, "é\\u00e9"], "z": 2}'  # order, spacing, duplicates and escapes kept
    store = make_backend("project")
    store.append(MemoryItem("x", "project", "p1", text, 1.5, "t1", ("style",), '{"b":1, "a":2}'))
    [item] = store.query()
    assert (item.payload_json, item.metadata_json) == (text, '{"b":1, "a":2}')
    with postgres_server.admin() as conn:
        row = conn.execute(f"SELECT payload->>'a', tags FROM {schema}.project_memory").fetchone()
    assert row == ('[1.0, 1e3, "é\\u00e9"]', ["style"])


def test_limit_zero_keeps_nothing_and_a_negative_limit_is_refused(make_backend):
    store = make_backend("task")
    store.append(MemoryItem("a", "task", "p1", "1", 1.0))
    store.put_artifact(Artifact("ar", "node_output", "p1", "t1", "1", 1.0))
    assert store.query(limit=0) == [] and store.artifacts(limit=0) == []
    for call in (store.query, store.artifacts):
        try:
            call(limit=-1)
        except ValueError as exc:
            assert "limit" in str(exc)
        else:
            raise AssertionError("a negative limit was accepted")


def test_items_of_another_store_or_project_are_refused(make_backend):
    store = make_backend("task")
    for item in (MemoryItem("a", "project", "p1", "1", 1.0), MemoryItem("b", "task", "p2", "1", 1.0)):
        try:
            store.append(item)
        except ValueError:
            continue
        raise AssertionError(f"{item} was accepted")
    assert store.query() == []


def test_global_items_are_shared_and_keep_their_writer(make_backend):
    first, second = make_backend("global", "p1"), make_backend("global", "p2")
    first.append(MemoryItem("g1", "global", "p1", "1", 1.0))
    second.append(MemoryItem("g2", "global", "p2", "2", 2.0))
    assert [(i.id, i.project_id) for i in first.query()] == [("g1", "p1"), ("g2", "p2")]


def test_order_is_by_created_at_then_insertion_not_by_insertion_alone(make_backend):
    store = make_backend("project")
    for name, at in (("late", 5.0), ("early", 1.0), ("tie-1", 3.0), ("tie-2", 3.0)):
        store.append(MemoryItem(name, "project", "p1", "0", at))
    assert [i.id for i in store.query()] == ["early", "tie-1", "tie-2", "late"]
    assert [i.id for i in store.query(limit=3)] == ["tie-1", "tie-2", "late"]


def test_a_closed_backend_refuses_work(make_backend):
    store = make_backend("project")
    store.close()
    store.close()  # idempotent
    try:
        store.query()
    except Exception as exc:  # psycopg_pool.PoolClosed
        assert "closed" in str(exc)
    else:
        raise AssertionError("a closed backend answered")


# -- any items, any queries: the answers are the contract's ----------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=8)
_items = st.lists(
    st.tuples(_json, st.floats(0, 1e10, allow_nan=False) | st.sampled_from([1.0, 2.0]),
              st.none() | st.sampled_from(["t1", "t2"]), st.lists(st.sampled_from(["a", "b", "c"]), max_size=2),
              _names),
    max_size=12,
)


def _reference(items: list[MemoryItem], max_items: int | None) -> list[MemoryItem]:
    ordered = sorted(enumerate(items), key=lambda pair: (pair[1].created_at, pair[0]))
    kept = [item for _, item in ordered]
    return kept[-max_items:] if max_items is not None else kept


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_items, max_items=st.none() | st.integers(1, 5), task_id=st.none() | st.sampled_from(["t1", "t2"]),
       tags=st.lists(st.sampled_from(["a", "b", "c"]), max_size=2), limit=st.none() | st.integers(0, 4))
def test_any_items_come_back_exactly_with_the_contract_order_filters_and_retention(
    make_backend, rows, max_items, task_id, tags, limit
):
    project = f"prop-{next(_projects)}"
    store = make_backend("task", project, max_items)
    items = [
        MemoryItem(f"{index}-{name}", "task", project, json.dumps(payload, ensure_ascii=False), at, task, tuple(tg),
                   json.dumps({"name": name}))
        for index, (payload, at, task, tg, name) in enumerate(rows)
    ]
    for item in items:
        store.append(item)
    kept = _reference(items, max_items)
    assert store.query() == kept
    wanted = [i for i in kept if (task_id is None or i.task_id == task_id) and (not tags or set(tags) & set(i.tags))]
    expected = wanted[max(len(wanted) - limit, 0):] if limit is not None else wanted
    assert store.query(task_id=task_id, tags=tags, limit=limit) == expected
    store.close()


def test_the_json_column_refuses_text_that_is_not_json(make_backend):
    store = make_backend("project")
    try:
        store.append(MemoryItem("bad", "project", "p1", "{not json", 1.0))
    except psycopg.errors.InvalidTextRepresentation:
        pass
    else:
        raise AssertionError("invalid JSON text was stored")
    assert store.query() == []
