"""Context assembly: the memory items a node sees, chosen by its profile under a token budget.

A profile's sources are read in order: ``task`` is the items the running task and its ancestors wrote in this
run (their node outputs, kept by the run itself, so that reruns and replays with the same run id see exactly
what the original saw), ``project`` and ``global`` are read from their backends (the newest ``limit`` items,
or as many of the newest as could fit the budget at all when the source sets no limit). Each item becomes an entry
``{"store", "tags", "payload"}``; an entry costs ``count(its JSON text)`` tokens, and the package never costs
more than ``max_tokens``:

- ``recency``: newest first, stopping at the first entry that does not fit;
- ``all``: every entry when they fit; otherwise head and tail are kept (oldest, newest, second oldest, second
  newest...) until the next does not fit -- the middle is what is dropped;
- ``hybrid``: entries sharing the most words with the node input first, newer first among equals.

The package is always in chronological order (the order the sources list, oldest first within one).
``estimate`` (4 characters per token, rounded up) is the built-in counter; ``register_token_counters`` adds
exact ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from agent_engine_core._json import dumps, loads
from agent_engine_core.memory import Memory

if TYPE_CHECKING:
    from agent_engine_core.manifests.models import ContextProfile, ContextSource

__all__ = ["Assembled", "Assembler", "ContextAssembler", "TaskItems", "estimate_tokens", "freeze"]

TokenCounter = Callable[[str], int]
TaskItems = Mapping[str, Sequence[tuple[tuple[str, ...], str]]]
"""This run's task memory: task id -> its items as ``(tags, payload_json)``, oldest first."""

_WORDS = re.compile(r"\w+")


def estimate_tokens(text: str) -> int:
    """The built-in counter: one token per 4 characters, rounded up (a common estimate for English and JSON)."""
    return math.ceil(len(text) / 4)


@dataclass(frozen=True, slots=True)
class Assembled:
    """An assembled context: its entries as JSON text, what they cost and how many were left out."""

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


@dataclass(frozen=True, slots=True)
class ContextAssembler:
    """One profile, bound to the engine's memory and a token counter."""

    profile: ContextProfile
    memory: Memory
    count: TokenCounter

    def assemble(self, task_id: str, depth: int, input_json: str, task_items: TaskItems) -> Assembled:
        """The context of a stage of task ``task_id`` (at fan-out ``depth``) on ``input_json``."""
        entries = [entry for source in self.profile.sources for entry in self._read(source, task_id, depth,
                                                                                    task_items)]
        texts = [dumps(entry) for entry in entries]
        costs = [self.count(text) for text in texts]
        chosen = self._choose(texts, costs, input_json)
        return Assembled(
            self.profile.id, "[" + ",".join(texts[i] for i in chosen) + "]", sum(costs[i] for i in chosen),
            len(entries) - len(chosen),
        )

    def _read(self, source: ContextSource, task_id: str, depth: int, task_items: TaskItems) -> list[dict[str, Any]]:
        wanted = set(source.tags)
        if source.store == "task":
            lineage = [task_id]
            for _ in range(depth):  # a child's id is "<parent id>/<node>#<index>"
                lineage.append(lineage[-1].rsplit("/", 1)[0])
            found = [(tags, payload) for owner in reversed(lineage) for tags, payload in task_items.get(owner, ())
                     if not wanted or wanted & set(tags)]
            if source.limit is not None:
                found = found[-source.limit:]
            return [{"store": "task", "tags": list(tags), "payload": loads(payload)} for tags, payload in found]
        window = source.limit if source.limit is not None else self._window(source.store)
        items = self.memory.store(source.store).query(tags=source.tags, limit=window)
        return [{"store": source.store, "tags": list(i.tags), "payload": i.payload} for i in items]

    def _window(self, store: str) -> int:
        """How many of a store's newest items could fit at all: the budget over the cost of the smallest entry.

        Counters are taken to be monotone (a longer text never costs less), so no entry costs less than
        ``{"store":...,"tags":[],"payload":0}``; the backend is never asked for more than can be chosen.
        """
        smallest = self.count(dumps({"store": store, "tags": [], "payload": 0}))
        return self.profile.max_tokens // max(smallest, 1)

    def _choose(self, texts: list[str], costs: list[int], input_json: str) -> list[int]:
        """Indexes of the entries that go in, in chronological order."""
        policy = self.profile.retrieval_policy
        newest_first = list(range(len(texts) - 1, -1, -1))
        if policy == "all":
            order = [i for pair in zip(range(len(texts)), newest_first, strict=True) for i in pair]
            order = list(dict.fromkeys(order))  # head, tail, head+1, tail-1 ... without repeats
        elif policy == "hybrid":
            words = set(_WORDS.findall(input_json.lower()))
            overlap = [len(words & set(_WORDS.findall(text.lower()))) for text in texts]
            order = sorted(newest_first, key=lambda i: -overlap[i])  # stable: newer first among equals
        else:
            order = newest_first
        budget, chosen = self.profile.max_tokens, []
        for index in order:
            if costs[index] > budget:
                break
            budget -= costs[index]
            chosen.append(index)
        return sorted(chosen)


def freeze(value: Any) -> Any:
    """A read-only copy of a JSON value: mappings become ``MappingProxyType``, lists tuples."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value
