"""Context assembly: the memory items a node sees, chosen by its profile under a token budget.

A profile's sources offer candidates: ``task`` is the items the running task and its ancestors wrote in this
run (their node outputs, kept by the run itself, so that reruns and replays with the same run id see exactly
what the original saw), ``project`` and ``global`` are read from their backends. Each candidate becomes an entry
``{"store", "tags", "payload"}``; an entry costs ``count(its JSON text)`` tokens, and the package never costs
more than ``max_tokens``. All candidates share one timeline: by ``created_at`` (``write_time``, strictly
increasing within a process), then the profile's source order, then the source's own order (oldest first).

- ``recency``: newest first across sources, stopping at the first entry that does not fit; a source offers its
  newest ``limit`` items, or as many of its newest as could fit at all (the budget over the smallest entry);
- ``all``: every entry when they fit; otherwise head and tail are kept (oldest, newest, second oldest, second
  newest...) until the next does not fit -- the middle is what is dropped;
- ``hybrid``: entries whose payload and tags share the most distinct words with the node input first, newer
  first among equals; entries that do not fit are skipped and the next ones tried.

``all`` and ``hybrid`` consider every item of a source up to its ``limit``, or its newest ``MAX_CANDIDATES``
without one. Whatever the policy, the package is in timeline order (oldest first), as a transcript reads.
``estimate`` (4 characters per token, rounded up) is the built-in counter; ``register_token_counters`` adds
exact ones.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from agent_engine_core.codec import dumps, loads
from agent_engine_core.memory import Memory

if TYPE_CHECKING:
    from agent_engine_core.manifests.models import ContextProfile, ContextSource

__all__ = ["MAX_CANDIDATES", "Assembled", "Assembler", "ContextAssembler", "TaskItems", "estimate_tokens", "freeze"]

TokenCounter = Callable[[str], int]
TaskItems = Mapping[str, Sequence[tuple[tuple[str, ...], str, float]]]
"""This run's task memory: task id -> its items as ``(tags, payload_json, created_at)``, oldest first."""

MAX_CANDIDATES = 10_000
"""How many of a source's newest items ``all`` and ``hybrid`` consider when the source sets no ``limit``."""

_WORDS = re.compile(r"\w+")


def estimate_tokens(text: str) -> int:
    """The built-in counter: one token per 4 characters, rounded up (a common estimate for English and JSON)."""
    return math.ceil(len(text) / 4)


@dataclass(frozen=True, slots=True)
class Assembled:
    """An assembled context: its entries as JSON text, what they cost and how many candidates were left out."""

    profile: str
    entries_json: str
    tokens: int
    dropped: int


class Assembler(Protocol):
    """What a stage asks for its context (the replay gives recorded contexts through the same interface)."""

    @property
    def profile(self) -> ContextProfile:
        """The profile the node names."""
        ...

    def assemble(self, task_id: str, depth: int, input_json: str, task_items: TaskItems) -> Assembled:
        """The context of a stage of task ``task_id`` (at fan-out ``depth``) on ``input_json``."""
        ...


class _Candidate(NamedTuple):
    """An item a source offers; ``when`` is its place on the timeline."""

    when: tuple[float, int, int]
    """``(created_at, source index, position in the source)``: unique, so candidates sort by it alone."""
    store: str
    tags: tuple[str, ...]
    payload_json: str
    canonical: bool
    """Whether ``payload_json`` is the engine's own encoding already (task items are node outputs)."""

    def payload_text(self) -> str:
        """The payload as the engine's ``dumps`` writes it (a backend may keep other spacing or escapes)."""
        return self.payload_json if self.canonical else dumps(loads(self.payload_json))


@functools.lru_cache(maxsize=1024)
def _tags_json(tags: tuple[str, ...]) -> str:
    """A tag list's JSON text (a store's items share a few tag sets: each is encoded once)."""
    return dumps(list(tags))


def _entry_text(candidate: _Candidate, payload: str) -> str:
    """``dumps({"store", "tags", "payload"})`` of the entry, from its payload's text (no decode of it)."""
    return f'{{"store":"{candidate.store}","tags":{_tags_json(candidate.tags)},"payload":{payload}}}'


def _newest_first(candidate: _Candidate) -> tuple[float, int, int]:
    at, source, position = candidate.when
    return -at, source, -position  # among items written at the same instant, the source listed first comes first


def _with_texts(ranked: Iterable[_Candidate]) -> Iterator[tuple[_Candidate, str]]:
    """Candidates with their entry texts, made only as they are reached."""
    for candidate in ranked:
        yield candidate, _entry_text(candidate, candidate.payload_text())


def _head_and_tail(timeline: list[_Candidate]) -> Iterator[_Candidate]:
    """Oldest, newest, second oldest, second newest... each once."""
    low, high = 0, len(timeline) - 1
    while low <= high:
        yield timeline[low]
        if high != low:
            yield timeline[high]
        low, high = low + 1, high - 1


def _by_relevance(candidates: list[_Candidate], input_json: str) -> list[_Candidate]:
    """Every candidate, most distinct words shared with the input first, then newest first.

    Words are read from the payload as the backend returned it: spacing is all that our backends change, and it
    holds no words, so the canonical text (a decode and an encode per item) is made only for entries reached.
    """
    words = set(_WORDS.findall(input_json.lower()))
    if not words:
        return sorted(candidates, key=_newest_first)
    scored = []
    for candidate in candidates:
        text = " ".join((candidate.payload_json, *candidate.tags)).lower()
        # a shared word is a substring of the text: most items are ruled out without splitting them into words
        shared = len(words.intersection(_WORDS.findall(text))) if any(word in text for word in words) else 0
        scored.append((-shared, _newest_first(candidate), candidate))
    scored.sort(key=lambda entry: entry[:2])
    return [candidate for _, _, candidate in scored]


@dataclass(frozen=True, slots=True)
class ContextAssembler:
    """One profile, bound to the engine's memory and a token counter."""

    profile: ContextProfile
    memory: Memory
    count: TokenCounter

    def assemble(self, task_id: str, depth: int, input_json: str, task_items: TaskItems) -> Assembled:
        """The context of a stage of task ``task_id`` (at fan-out ``depth``) on ``input_json``."""
        candidates = [candidate for index, source in enumerate(self.profile.sources)
                      for candidate in self._read(index, source, task_id, depth, task_items)]
        policy = self.profile.retrieval_policy
        if policy == "hybrid":
            chosen = self._fill(_with_texts(_by_relevance(candidates, input_json)), skip=True)
        elif policy == "all":
            chosen = self._fill(_with_texts(_head_and_tail(sorted(candidates))), skip=False)
        else:
            chosen = self._fill(_with_texts(sorted(candidates, key=_newest_first)), skip=False)
        chosen.sort()  # timeline order
        return Assembled(self.profile.id, "[" + ",".join(text for _, text, _ in chosen) + "]",
                         sum(cost for _, _, cost in chosen), len(candidates) - len(chosen))

    def _read(
        self, index: int, source: ContextSource, task_id: str, depth: int, task_items: TaskItems
    ) -> list[_Candidate]:
        """The candidates ``source`` (the profile's ``index``-th) offers, oldest first."""
        store = source.store
        if self.profile.retrieval_policy == "recency":
            fit = self._fit(store)
            wanted = fit if source.limit is None else min(source.limit, fit)
        else:
            wanted = MAX_CANDIDATES if source.limit is None else source.limit
        if store == "task":
            tags = set(source.tags)
            lineage = [task_id]
            for _ in range(depth):  # a child's id is "<parent id>/<node>#<index>"
                lineage.append(lineage[-1].rsplit("/", 1)[0])
            found = [item for owner in reversed(lineage) for item in task_items.get(owner, ())
                     if not tags or tags & set(item[0])]
            return [_Candidate((at, index, position), "task", item_tags, payload, True)
                    for position, (item_tags, payload, at) in enumerate(found[max(len(found) - wanted, 0):])]
        items = self.memory.store(store).query(tags=source.tags, limit=wanted)
        return [_Candidate((item.created_at, index, position), store, item.tags, item.payload_json, False)
                for position, item in enumerate(items)]

    def _fit(self, store: str) -> int:
        """How many entries of ``store`` could fit at all: the budget over the cost of the smallest entry.

        Counters are taken to be monotone (a longer text never costs less), so no entry costs less than
        ``{"store":...,"tags":[],"payload":0}``; recency never reads more than can be chosen.
        """
        smallest = self.count(dumps({"store": store, "tags": [], "payload": 0}))
        return self.profile.max_tokens // max(smallest, 1)

    def _smallest_entry(self) -> int:
        """The least an entry of any of the profile's stores can cost (see ``_fit``)."""
        return min((self.count(dumps({"store": source.store, "tags": [], "payload": 0}))
                    for source in self.profile.sources), default=0)

    def _fill(self, ranked: Iterable[tuple[_Candidate, str]], *, skip: bool) -> list[tuple[_Candidate, str, int]]:
        """Take entries in rank order while they fit; past one that does not, stop or (``skip``) try the next."""
        budget, chosen = self.profile.max_tokens, []
        smallest = self._smallest_entry() if skip else 0
        for candidate, text in ranked:
            cost = self.count(text)
            if cost <= budget:
                budget -= cost
                chosen.append((candidate, text, cost))
            elif not skip or budget < smallest:
                break  # (skip) what is left of the budget fits no entry at all
        return chosen


def freeze(value: Any) -> Any:
    """A read-only copy of a JSON value: mappings become ``MappingProxyType``, lists tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value
