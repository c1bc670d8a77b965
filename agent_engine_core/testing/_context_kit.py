"""``check_context_retrieval``: the context policies' rules, over a memory backend, for any items (Hypothesis).

Context assembly reads project and global memory through ``query``; what it chooses depends on that answering
in ``created_at`` order whatever order items were appended in. This check builds the project and global stores
on the backend under test, writes generated items to them (and to the run's task memory) in any time order,
and holds every policy to its documented rule against a model written from docs/MEMORY.md:

- the package never costs more than the budget, and lists its entries on the timeline (oldest first; ties by
  the profile's source order, then each source's own order);
- ``recency`` gives the longest newest-first run of entries that fits, across every source;
- ``all`` gives every entry when they fit, else the longest head-and-tail run that fits;
- ``hybrid`` never leaves out an entry that ranks above one it gave (more shared words, then newer) and would
  have fitted in what the entries ranked above it left;
- the same items give the same package, however the stores' writes were interleaved.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agent_engine_core._build.context import Assembled, ContextAssembler, TaskItems, estimate_tokens
from agent_engine_core.codec import dumps
from agent_engine_core.manifests.models import ContextProfile, ContextSource
from agent_engine_core.memory import InMemoryBackend, Memory, MemoryBackend, MemoryItem, MemorySetup, StoreName

__all__ = ["assemble_context", "check_context_retrieval"]

Build = Callable[[MemorySetup], MemoryBackend]

_WORDS = re.compile(r"\w+")
_VOCABULARY = ("apple", "banana", "cherry", "date")
_Item = tuple[StoreName, int, frozenset[str], frozenset[str], int]
"""A generated item: ``(store, created_at, words, tags, padding)``."""


def assemble_context(
    profile: ContextProfile, memory: Memory, input_json: str, *, task_id: str = "t",
    task_items: TaskItems | None = None,
) -> Assembled:
    """The context the engine gives a node with ``profile`` on ``input_json``, over ``memory``.

    Counted by the built-in estimate (4 characters per token). The ``task`` source reads ``task_items``: task id
    -> that task's items as ``(tags, payload_json, created_at)``, oldest first (none when not given). The result
    has the package's ``entries_json``, its ``tokens`` and how many candidates were ``dropped``.
    """
    return ContextAssembler(profile, memory, estimate_tokens).assemble(task_id, 0, input_json, task_items or {})


def _entry(store: str, key: int, item: _Item) -> dict[str, Any]:
    _, _, words, tags, pad = item
    return {"store": store, "tags": sorted(tags), "payload": {"id": key, "w": " ".join(sorted(words)), "p": "z" * pad}}


def _cost(entry: dict[str, Any]) -> int:
    return estimate_tokens(json.dumps(entry, ensure_ascii=False, separators=(",", ":")))


def _memory(build: Build, folder: Path, items: list[_Item], order: list[int]) -> Memory:
    """A memory whose project and global stores are on ``build``, holding ``items`` appended in ``order``."""
    stores: dict[StoreName, MemoryBackend] = {"task": InMemoryBackend(MemorySetup("task", "p", None))}
    for name in ("project", "global"):
        stores[name] = build(MemorySetup(name, "p", folder))
    for key in order:
        store, at, _, tags, _ = items[key]
        if store != "task":
            payload = dumps(_entry(store, key, items[key])["payload"])
            stores[store].append(MemoryItem(f"i{key}", store, "p", payload, float(at), None, tuple(sorted(tags))))
    return Memory(stores, "p")


def _task_items(items: list[_Item]) -> TaskItems:
    """The run's task memory: its items in write order (a run writes them in time order)."""
    written = sorted((at, key) for key, (store, at, _, _, _) in enumerate(items) if store == "task")
    return {"t": [(tuple(sorted(items[key][3])), dumps(_entry("task", key, items[key])["payload"]), float(at))
                  for at, key in written]}


def _candidates(profile: ContextProfile, items: list[_Item]) -> list[tuple[tuple[int, int, int], dict[str, Any]]]:
    """The model: every entry the sources offer, with its timeline place ``(created_at, source, position)``."""
    offered = []
    for index, source in enumerate(profile.sources):
        mine = sorted((at, key) for key, (store, at, _, tags, _) in enumerate(items)
                      if store == source.store and (not source.tags or tags & set(source.tags)))
        if source.limit is not None:
            mine = mine[max(len(mine) - source.limit, 0):]
        offered += [((at, index, position), _entry(source.store, key, items[key]))
                    for position, (at, key) in enumerate(mine)]
    return offered


def _fitting_run(ranked: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    taken = []
    for entry in ranked:
        if _cost(entry) > budget:
            break
        budget -= _cost(entry)
        taken.append(entry)
    return taken


def _head_and_tail(timeline: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for low in range((len(timeline) + 1) // 2):
        yield timeline[low]
        if len(timeline) - 1 - low != low:
            yield timeline[-1 - low]


def _check_hybrid(offered: list[tuple[tuple[int, int, int], dict[str, Any]]], given: list[dict[str, Any]],
                  query: str, budget: int) -> None:
    words = set(_WORDS.findall(query.lower()))

    def rank(place: tuple[int, int, int], entry: dict[str, Any]) -> tuple[int, int, int, int]:
        text = " ".join((json.dumps(entry["payload"], ensure_ascii=False, separators=(",", ":")), *entry["tags"]))
        at, source, position = place
        return -len(words & set(_WORDS.findall(text.lower()))), -at, source, -position

    spent = 0
    for _, entry in sorted(offered, key=lambda offer: rank(*offer)):
        if entry in given:
            spent += _cost(entry)
        else:
            assert _cost(entry) > budget - spent, f"hybrid left out {entry}, which ranks higher and fits"


def _check_package(profile: ContextProfile, items: list[_Item], input_json: str, assembled: Assembled) -> None:
    """``assembled`` is what the documented rules give ``profile`` over ``items``."""
    offered = _candidates(profile, items)
    timeline = [entry for _, entry in sorted(offered, key=lambda offer: offer[0])]
    budget = profile.max_tokens
    given = json.loads(assembled.entries_json)
    assert assembled.tokens == sum(map(_cost, given)) <= budget, "never more than the budget"
    assert given == [entry for entry in timeline if entry in given], "the package is in timeline order"
    policy = profile.retrieval_policy
    if policy == "recency":
        newest_first = [entry for _, entry in sorted(offered, key=lambda o: (-o[0][0], o[0][1], -o[0][2]))]
        assert given == sorted(_fitting_run(newest_first, budget), key=timeline.index), "the newest that fit"
        return
    if policy == "all":
        fits = sum(map(_cost, timeline)) <= budget
        expected = timeline if fits else _fitting_run(list(_head_and_tail(timeline)), budget)
        assert given == sorted(expected, key=timeline.index), "everything, or head and tail"
    else:
        _check_hybrid(offered, given, input_json, budget)
    assert assembled.dropped == len(offered) - len(given), f"{policy} considers every item"


def _check_example(build: Build, items: list[_Item], profile: ContextProfile, query: str) -> None:
    """Every policy, at the generated budget and at fractions of what everything costs, on two interleavings."""
    input_json = dumps({"q": query})
    total = sum(_cost(entry) for _, entry in _candidates(profile, items))
    budgets = sorted({profile.max_tokens, *(max(total * k // 4, 1) for k in range(1, 5))})
    profiles = [profile.model_copy(update={"retrieval_policy": policy, "max_tokens": budget})
                for policy in ("recency", "all", "hybrid") for budget in budgets]
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        global_first = sorted(range(len(items)), key=lambda key: items[key][0] != "global")
        memories = [_memory(build, Path(first), items, list(range(len(items)))),
                    _memory(build, Path(second), items, global_first)]
        try:
            for each in profiles:
                packages = {assemble_context(each, memory, input_json, task_items=_task_items(items))
                            for memory in memories for _ in range(2)}
                assert len(packages) == 1, "the same items give the same package, however their writes interleaved"
                _check_package(each, items, input_json, packages.pop())
        finally:
            for memory in memories:
                memory.close()


def check_context_retrieval(build: Build, *, max_examples: int = 40) -> None:
    """Context policies keep their documented rules with project and global memory on ``build`` (Hypothesis).

    Items of the three stores, written in any ``created_at`` order (ties included), with words, tags and sizes;
    profiles over any distinct stores, with tag filters and limits, under every policy at several budgets. Each example
    builds its stores with fresh temporary ``project_dir``s: ``build`` must start empty there.
    """
    from hypothesis import given, settings  # noqa: PLC0415 - a test dependency, not one of the core's
    from hypothesis import strategies as st  # noqa: PLC0415 - as above

    stores = st.sampled_from(["task", "project", "global"])
    items = st.lists(st.tuples(stores, st.integers(0, 5), st.frozensets(st.sampled_from(_VOCABULARY)),
                               st.frozensets(st.sampled_from("xy")), st.integers(0, 60)), max_size=14)
    sources = st.lists(st.builds(ContextSource, store=stores, tags=st.lists(st.sampled_from("xy"), max_size=2),
                                 limit=st.none() | st.integers(1, 5)), min_size=1, max_size=3,
                       unique_by=lambda source: source.store)
    profiles = st.builds(ContextProfile, id=st.just("c"), sources=sources, max_tokens=st.integers(1, 150))
    query = st.lists(st.sampled_from(_VOCABULARY), max_size=3).map(" ".join)

    @settings(max_examples=max_examples, deadline=None)
    @given(items=items, profile=profiles, query=query)
    def policies_keep_their_rules(items: list[_Item], profile: ContextProfile, query: str) -> None:
        _check_example(build, items, profile, query)

    policies_keep_their_rules()
