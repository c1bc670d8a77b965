"""The built-in in-memory backend keeps the memory contract, and stays bounded."""

from __future__ import annotations

from agent_engine_core.codec import dumps
from agent_engine_core.memory import InMemoryBackend, MemoryItem, MemorySetup
from agent_engine_core.testing import check_memory_backend


def test_the_in_memory_backend_keeps_the_contract(tmp_path):
    check_memory_backend(InMemoryBackend, tmp_path, persistent=False)


def test_the_in_memory_backend_is_bounded_by_default():
    backend = InMemoryBackend(MemorySetup("task", "p", None))
    for n in range(InMemoryBackend.DEFAULT_MAX_ITEMS + 5):
        backend.append(MemoryItem(f"i{n}", "task", "p", dumps(n), float(n)))
    items = backend.query()
    assert len(items) == InMemoryBackend.DEFAULT_MAX_ITEMS
    assert items[0].payload == 5
