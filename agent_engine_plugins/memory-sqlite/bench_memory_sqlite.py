"""How fast the sqlite memory backend writes and answers (a script, not a test).

    .venv/bin/python agent_engine_plugins/memory-sqlite/bench_memory_sqlite.py [--folder DIR] [--appends N]

Appends go through the backend (one transaction and one WAL fsync each, ``synchronous=FULL``), so their rate
is the disk's fsync rate more than anything SQLite does: run it on the disk the engine will use (``--folder``;
the default is a temporary folder). The queries run against 10,000 items of one project, spread over 100 tasks,
every item tagged ``common``, one in a hundred tagged ``rare`` too: the newest 20, a task's newest 20, the
newest 20 with a tag (common, then rare: the rare tag makes SQLite look at ~2,000 rows to find 20), and all
10,000 items; then the assembly of a 2,000-token context from those 10,000 items by each retrieval policy. Each
figure is the median of repeated runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent_engine_core.codec import dumps
from agent_engine_core.manifests.models import ContextProfile, ContextSource
from agent_engine_core.memory import InMemoryBackend, Memory, MemoryItem, MemorySetup
from agent_engine_core.testing import assemble_context

from agent_engine_memory_sqlite import SqliteMemoryBackend

STORED = 10_000


def item(n: int, *, tags: tuple[str, ...] = ("common",)) -> MemoryItem:
    payload = {"n": n, "text": f"note {n}: " + "lorem ipsum dolor sit amet " * 8}
    return MemoryItem(f"it-{n}", "project", "bench", dumps(payload), float(n), f"task-{n % 100}", tags,
                      dumps({"node": "draft"}))


def median_ms(action: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def seed(backend: SqliteMemoryBackend, count: int) -> None:
    """``count`` items in one transaction, through the backend's connection (the rows ``append`` would write)."""
    rows = []
    for n in range(count):
        it = item(n, tags=("common", "rare") if n % 100 == 0 else ("common",))
        rows.append((it.id, it.task_id, it.project_id, it.store, it.payload_json, it.created_at,
                     dumps(list(it.tags)), it.metadata_json))
    connection = backend._connection  # a benchmark's shortcut: 10,000 fsyncs would take a minute
    connection.execute("BEGIN")
    connection.executemany(backend._insert, rows)
    connection.execute("COMMIT")


def appends_per_second(folder: Path, count: int, max_items: int | None) -> float:
    """Appends through the backend; with ``max_items``, the store starts full, so each append also deletes one."""
    backend = SqliteMemoryBackend(MemorySetup("project", "bench", folder, max_items=max_items))
    seed(backend, max_items or 0)
    start = time.perf_counter()
    for n in range(count):
        backend.append(item(1_000_000 + n))
    elapsed = time.perf_counter() - start
    backend.close()
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="where to create the databases (default: a temporary folder)")
    parser.add_argument("--appends", type=int, default=500, help="appends to time (default 500)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=arguments.folder) as scratch:
        folder = Path(scratch)
        fresh = appends_per_second(folder / "a", arguments.appends, None)
        bounded = appends_per_second(folder / "b", arguments.appends, 5000)
        print(f"{'appends to a new database (synchronous=FULL):':<58}{fresh:8.0f} /s")
        print(f"{'appends at the bound (max_items=5000, one delete each):':<58}{bounded:8.0f} /s")
        backend = SqliteMemoryBackend(MemorySetup("project", "bench", folder / "q"))
        seed(backend, STORED)
        figures = {
            "query(limit=20)": lambda: backend.query(limit=20),
            "query(task_id=..., limit=20)": lambda: backend.query(task_id="task-7", limit=20),
            "query(tags=['common'], limit=20)": lambda: backend.query(tags=["common"], limit=20),
            "query(tags=['rare'], limit=20)": lambda: backend.query(tags=["rare"], limit=20),
            "query(tags=['rare']) (all 100)": lambda: backend.query(tags=["rare"]),
            "query() (all 10,000)": backend.query,
        }
        assert len(backend.query(tags=["rare"], limit=20)) == 20
        for name, action in figures.items():
            print(f"{name + ' over 10,000 items:':<58}{median_ms(action, 30):8.2f} ms")
        memory = Memory({"task": InMemoryBackend(MemorySetup("task", "bench", None)), "project": backend,
                         "global": InMemoryBackend(MemorySetup("global", "bench", None))}, "bench")
        query = dumps({"q": "note 9999 lorem"})
        for policy in ("recency", "hybrid", "all"):
            profile = ContextProfile(id="bench", sources=[ContextSource(store="project")], retrieval_policy=policy,
                                     max_tokens=2000)
            assembled = assemble_context(profile, memory, query)
            took = median_ms(lambda p=profile: assemble_context(p, memory, query), 30)
            label = f"context assembly, {policy}, 2000 tokens ({len(dumps(assembled.entries_json)) // 1024} KiB):"
            print(f"{label:<58}{took:8.2f} ms")
        backend.close()


if __name__ == "__main__":
    main()
