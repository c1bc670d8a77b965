"""Many writers on one scope -- threads of one engine and separate processes -- leave exactly ``max_items``.

Each writer appends items with distinct ``created_at`` values interleaved with the other writers'. Whatever the
interleaving, the items left must be exactly the newest ``max_items`` of all those written, and no reader may
ever see more than ``max_items``: retention is applied in the writing transaction, under the scope's lock.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from agent_engine_core.memory import MemoryItem

from agent_engine_memory_postgres import SCHEMA_VERSION

WORKER = Path(__file__).with_name("_memory_postgres_worker.py")
MAX_ITEMS = 7
PER_WRITER = 40


def _spawn(spec: dict) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(WORKER), json.dumps(spec)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _newest(writers: int, count: int) -> list[str]:
    """Writer ``w``'s item ``i`` has created_at ``i * writers + w``: the ids of the newest MAX_ITEMS, oldest first."""
    every = sorted((index * writers + writer, f"w{writer}-{index}") for writer in range(writers)
                   for index in range(count))
    return [name for _, name in every[-MAX_ITEMS:]]


def test_threads_and_processes_writing_one_scope_leave_exactly_the_newest_max_items(make_backend, config):
    threads, processes = 4, 3
    writers = threads + processes
    reader = make_backend("project", "shared", MAX_ITEMS)
    specs = [
        {"config": config, "store": "project", "project": "shared", "max_items": MAX_ITEMS, "action": "hammer",
         "writer": f"w{threads + n}", "count": PER_WRITER, "start": threads + n, "step": writers}
        for n in range(processes)
    ]
    children = [_spawn(spec) for spec in specs]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready", child.stderr
        engine_store = make_backend("project", "shared", MAX_ITEMS, pool={"min_size": threads, "max_size": threads})
        start = threading.Barrier(threads + 1)
        failures: list[BaseException] = []
        seen: list[int] = []
        done = threading.Event()

        def write(writer: int) -> None:
            try:
                start.wait()
                for index in range(PER_WRITER):
                    engine_store.append(MemoryItem(f"w{writer}-{index}", "project", "shared", "{}",
                                                       float(index * writers + writer)))
            except BaseException as exc:
                failures.append(exc)

        def watch() -> None:
            while not done.is_set():
                seen.append(len(reader.query()))

        workers = [threading.Thread(target=write, args=(n,)) for n in range(threads)]
        watcher = threading.Thread(target=watch)
        for thread in (*workers, watcher):
            thread.start()
        for child in children:  # everyone starts together
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        start.wait()
        for thread in workers:
            thread.join()
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0 and out.strip() == "done", err
        done.set()
        watcher.join()
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert failures == []
    assert [i.id for i in reader.query()] == _newest(writers, PER_WRITER)
    assert seen and max(seen) <= MAX_ITEMS, "a reader saw more than max_items at some point"


def test_scopes_do_not_trim_each_other(make_backend):
    task_p1, task_p2 = make_backend("task", "p1", 2), make_backend("task", "p2", 2)
    shared = make_backend("global", "p1", 3)
    for n in range(5):
        task_p1.append(MemoryItem(f"a{n}", "task", "p1", "0", float(n)))
        task_p2.append(MemoryItem(f"b{n}", "task", "p2", "0", float(n)))
        shared.append(MemoryItem(f"g{n}", "global", "p1", "0", float(n)))
    assert [i.id for i in task_p1.query()] == ["a3", "a4"]
    assert [i.id for i in task_p2.query()] == ["b3", "b4"]
    assert [i.id for i in shared.query()] == ["g2", "g3", "g4"]


def test_many_workers_building_backends_on_a_fresh_schema_create_it_once(make_backend, postgres_server, schema):
    failures: list[BaseException] = []

    def build() -> None:
        try:
            make_backend("project")
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=build) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with postgres_server.admin() as conn:
        versions = conn.execute(f"SELECT version FROM {schema}.schema_version").fetchall()
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)], "each migration ran once"
