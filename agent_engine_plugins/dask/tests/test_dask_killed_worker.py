"""A worker killed in the middle of a task loses no task: the task runs again on another worker, which it says."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from _dask_projects import run_all, write_project
from agent_engine_core import Engine


def _kill_when_held(marker: Path, client, seen: dict) -> None:
    """Wait for the held task's marker, note where it runs, then SIGKILL that worker's process."""
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    pid = int(marker.read_text())
    pids = client.run(os.getpid)
    (victim,) = [address for address, worker_pid in pids.items() if worker_pid == pid]
    seen["victim"], seen["processing"] = victim, set(client.processing()[victim])
    os.kill(pid, signal.SIGKILL)


def test_the_task_of_a_killed_worker_runs_again_elsewhere_and_its_result_names_attempt_2(
    cluster, session_client, tmp_path
):
    project = write_project(tmp_path / "p", executor={"address": cluster.scheduler_address})
    marker = tmp_path / "held"
    inputs = [{"n": i, "marker": str(marker), "hold": i == 0, "sleep": 0.05} for i in range(6)]
    seen: dict = {}
    killer = threading.Thread(target=_kill_when_held, args=(marker, session_client, seen))
    killer.start()
    with Engine.from_config_dir(project) as engine:
        results = run_all(engine, inputs)
    killer.join(timeout=60)

    assert [r.task_id for r in results] == [f"r{i}" for i in range(6)] and all(r.ok for r in results)
    held = results[0].metadata["executor"]
    assert held["attempt"] == 2 and held["worker"] != seen["victim"]
    assert [key for key in seen["processing"] if key.startswith("agent-engine-r0-")]  # its key, from its run id
    assert all(r.metadata["executor"]["attempt"] in (1, 2) for r in results[1:])
    with Engine.from_config_dir(write_project(tmp_path / "local", executor=None)) as local:
        alone = run_all(local, inputs)
    assert [r.trace.digest for r in results] == [r.trace.digest for r in alone]
