"""What one process writes, the next reads; one process at a time; handles in one process share the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from agent_engine_core._json import dumps
from agent_engine_core.memory import Artifact, MemoryItem, MemorySetup

from agent_engine_memory_jsonl import build_backend

WRITE = """
import sys
from pathlib import Path
from agent_engine_core._json import dumps
from agent_engine_core.memory import Artifact, MemoryItem, MemorySetup
from agent_engine_memory_jsonl import build_backend

backend = build_backend(MemorySetup("project", "p1", Path(sys.argv[1]), max_items=3))
for n in range(5):
    backend.append(MemoryItem(f"i{n}", "project", "p1", dumps({"n": n, "text": "naïve ✓"}), 10.0 + n / 3,
                              f"t{n % 2}", ("even",) if n % 2 == 0 else (), dumps({"n": n})))
backend.put_artifact(Artifact("a1", "tool_result", "p1", "t0", dumps([1, None, True]), 20.0, "draft", None))
backend.close()
"""

READ = """
import json, sys
from pathlib import Path
from agent_engine_core.memory import MemorySetup
from agent_engine_memory_jsonl import build_backend

backend = build_backend(MemorySetup("project", "p1", Path(sys.argv[1])))
items = [[i.id, i.task_id, i.payload_json, i.created_at, list(i.tags), i.metadata_json] for i in backend.query()]
artifacts = [[a.id, a.kind, a.node_id, a.payload_json] for a in backend.artifacts()]
print(json.dumps({"items": items, "artifacts": artifacts, "even": [i.id for i in backend.query(tags=["even"])]}))
backend.close()
"""

HOLD = """
import sys
from pathlib import Path
from agent_engine_core.memory import MemorySetup
from agent_engine_memory_jsonl import build_backend

try:
    build_backend(MemorySetup("task", "p1", Path(sys.argv[1]))).close()
except ValueError as exc:
    print(exc)
else:
    print("opened")
"""


def python(code: str, *args: object) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_memory_written_by_one_process_is_read_by_the_next(tmp_path):
    python(WRITE, tmp_path)
    read = json.loads(python(READ, tmp_path))
    assert read["items"] == [
        [f"i{n}", f"t{n % 2}", dumps({"n": n, "text": "naïve ✓"}), 10.0 + n / 3, ["even"] if n % 2 == 0 else [],
         dumps({"n": n})]
        for n in (2, 3, 4)
    ]
    assert read["even"] == ["i2", "i4"]
    assert read["artifacts"] == [["a1", "tool_result", "draft", "[1,null,true]"]]


def test_a_second_process_is_refused_while_one_holds_the_store(tmp_path):
    held = build_backend(MemorySetup("task", "p1", tmp_path))
    try:
        message = python(HOLD, tmp_path)
    finally:
        held.close()
    assert "task_store.jsonl is open in another process (pid " in message
    assert "use the sqlite backend" in message
    assert python(HOLD, tmp_path).strip() == "opened", "closing the store lets the next process in"


def test_handles_in_one_process_share_the_file_its_index_and_its_retention(tmp_path):
    first = build_backend(MemorySetup("project", "p1", tmp_path, max_items=2))
    second = build_backend(MemorySetup("project", "p1", tmp_path))
    second.append(MemoryItem("a", "project", "p1", "1", 1.0))
    second.append(MemoryItem("b", "project", "p1", "2", 2.0))
    first.append(MemoryItem("c", "project", "p1", "3", 3.0))
    assert [i.id for i in second.query()] == ["b", "c"], "the bounded handle's retention is seen by the other"
    first.close()
    second.append(MemoryItem("d", "project", "p1", "4", 4.0))
    assert [i.id for i in second.query()] == ["b", "c", "d"]
    second.close()


def test_threads_appending_through_several_handles_lose_nothing(tmp_path):
    handles = [build_backend(MemorySetup("task", "p1", tmp_path, max_items=60)) for _ in range(2)]
    errors = []

    def write(worker: int) -> None:
        try:
            for n in range(25):
                at = float(worker * 100 + n)
                handles[worker % 2].append(MemoryItem(f"w{worker}-{n}", "task", "p1", dumps(n), at, f"t{worker}"))
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    kept = handles[0].query()
    assert [i.id for i in kept] == [f"w{w}-{n}" for w in (5, 6, 7) for n in range(25)][-60:]
    assert [i.id for i in handles[1].query(task_id="t7")] == [f"w7-{n}" for n in range(25)]
    for handle in handles:
        handle.close()
    reopened = build_backend(MemorySetup("task", "p1", tmp_path))
    assert reopened.query() == kept
    reopened.close()


def test_a_closed_backend_refuses_work_and_closing_twice_is_harmless(tmp_path):
    backend = build_backend(MemorySetup("project", "p1", tmp_path))
    backend.close()
    backend.close()
    with pytest.raises(ValueError, match=r"the jsonl backend of the project store \(.*memory\) is closed"):
        backend.query()
    with pytest.raises(ValueError, match="is closed"):
        backend.append(MemoryItem("a", "project", "p1", "1", 1.0))


def test_items_of_another_store_or_project_and_bad_limits_are_refused(tmp_path):
    backend = build_backend(MemorySetup("project", "p1", tmp_path))
    with pytest.raises(ValueError, match="item 'a' belongs to the task store, not the project store"):
        backend.append(MemoryItem("a", "task", "p1", "1", 1.0))
    with pytest.raises(ValueError, match="item 'a' belongs to project 'p2', not to this store's project 'p1'"):
        backend.append(MemoryItem("a", "project", "p2", "1", 1.0))
    with pytest.raises(ValueError, match="artifact 'x' belongs to project 'p2'"):
        backend.put_artifact(Artifact("x", "node_output", "p2", "t", "1", 1.0))
    with pytest.raises(ValueError, match="payload_json is not JSON text"):
        backend.append(MemoryItem("a", "project", "p1", "{not json", 1.0))
    with pytest.raises(ValueError, match="limit must be a whole number >= 0 or None, got -1"):
        backend.query(limit=-1)
    backend.append(MemoryItem("a", "project", "p1", "1", 1.0))
    assert backend.query(limit=0) == []
    assert backend.artifacts(limit=0) == []
    backend.close()
    assert (tmp_path / ".agent_engine/memory/project_store.jsonl").read_text().count("\n") == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_backend_carried_across_fork_refuses_to_write(tmp_path):
    backend = build_backend(MemorySetup("project", "p1", tmp_path))
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the inherited backend refused the write
        try:
            backend.append(MemoryItem("child", "project", "p1", "1", 1.0))
        except ValueError as exc:
            os._exit(0 if "before it forked this one" in str(exc) else 2)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert backend.query() == [], "and the parent's store is untouched"
    backend.close()
