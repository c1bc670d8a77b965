"""What one process writes, the next one reads: memory lives in the server, not in a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent_engine_core.memory import MemoryItem

WORKER = Path(__file__).with_name("_memory_postgres_worker.py")


def _worker(spec: dict, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, str(WORKER), json.dumps(spec)], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_memory_written_by_one_process_is_read_by_the_next(postgres_server, password_role, schema, make_backend):
    role, password = password_role
    # the way an operator configures workers: the DSN, password included, in the variable dsn_env names
    env = {"AGENT_ENGINE_PG_DSN": f"postgresql://{role}:{password}@{postgres_server.host}:{postgres_server.port}/agent_engine_test"}
    config = {"dsn_env": "AGENT_ENGINE_PG_DSN", "schema": schema}
    items = [{"id": f"i{n}", "payload": {"n": n, "text": "é✓"}, "created_at": float(n), "task_id": "t1",
              "tags": ["style"] if n % 2 else []} for n in range(4)]
    first = {"config": config, "store": "project", "project": "p1", "max_items": 3, "action": "append",
             "items": items}
    assert _worker(first, env) == "done"

    here = make_backend("project", "p1", 3)  # this process, as the trusted superuser
    assert [(i.id, i.payload, i.tags) for i in here.query()] == [
        ("i1", {"n": 1, "text": "é✓"}, ("style",)), ("i2", {"n": 2, "text": "é✓"}, ()),
        ("i3", {"n": 3, "text": "é✓"}, ("style",)),
    ]
    here.append(MemoryItem("from-parent", "project", "p1", '{"parent":true}', 10.0))

    read = json.loads(_worker({**first, "action": "query"}, env))
    assert [row["id"] for row in read] == ["i2", "i3", "from-parent"]
    assert read[-1]["payload"] == {"parent": True}
