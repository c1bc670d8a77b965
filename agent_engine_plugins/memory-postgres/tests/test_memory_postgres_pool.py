"""The connection pool: bounded, replaced when the server drops a connection, released by ``close()``."""

from __future__ import annotations

import threading
import time
import uuid

from agent_engine_core.memory import MemoryItem


def _connections(postgres_server, name):
    with postgres_server.admin() as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name]).fetchone()
    return row[0]


def _connections_once_gone(postgres_server, name):
    """The count once the server has seen the closed connections go: a backend exits just after its client."""
    deadline = time.monotonic() + 30
    while (count := _connections(postgres_server, name)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return count


def test_the_pool_stays_within_max_size_and_close_releases_every_connection(make_backend, config, postgres_server):
    name = f"pool-{uuid.uuid4().hex[:8]}"
    store = make_backend("task", dsn=f"{config['dsn']} application_name={name}", pool={"min_size": 1, "max_size": 2})
    assert _connections(postgres_server, name) == 1
    peak: list[int] = []

    def write(n: int) -> None:
        for i in range(10):
            store.append(MemoryItem(f"{n}-{i}", "task", "p1", "{}", float(i)))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        peak.append(_connections(postgres_server, name))
        thread.join()
    assert len(store.query()) == 60
    assert max(peak) <= 2
    store.close()
    assert _connections_once_gone(postgres_server, name) == 0


def test_connections_the_server_dropped_are_replaced_before_use(make_backend, config, postgres_server):
    name = f"drop-{uuid.uuid4().hex[:8]}"
    store = make_backend("project", dsn=f"{config['dsn']} application_name={name}", pool={"min_size": 2})
    store.append(MemoryItem("before", "project", "p1", "1", 1.0))
    with postgres_server.admin() as conn:  # what a server restart or a failover does to idle connections
        killed = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE application_name = %s", [name]).fetchone()
    assert killed[0] >= 1
    store.append(MemoryItem("after", "project", "p1", "2", 2.0))
    assert [i.id for i in store.query()] == ["before", "after"]
