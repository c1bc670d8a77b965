"""Where the cluster comes from: one the engine starts and closes, or the one an address names; bad configs."""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from pathlib import Path

import pytest
from _dask_projects import WHERE, run_all, write_project
from agent_engine_core import Engine, ManifestError, PluginError


def test_without_an_address_the_engine_starts_a_local_cluster_and_closes_it_with_itself(tmp_path):
    project = write_project(tmp_path / "p", executor={"n_workers": 1, "threads_per_worker": 1}, workflow=WHERE)
    with Engine.from_config_dir(project) as engine:
        results = run_all(engine, [{}, {}])
        pids = {r.output["pid"] for r in results}
        (pid,) = pids
        assert pid != os.getpid() and pid in {child.pid for child in multiprocessing.active_children()}
    deadline = time.monotonic() + 30
    while pid in {child.pid for child in multiprocessing.active_children()} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid not in {child.pid for child in multiprocessing.active_children()}  # the worker went with the engine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_scheduler_fails_run_queued_with_every_task_back_in_the_queue(tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    project = write_project(tmp_path / "p", executor={"address": address, "connect_timeout_s": 1})
    with Engine.from_config_dir(project) as engine:  # loading connects to nothing
        for i in range(3):
            engine.enqueue({"n": i}, run_id=f"r{i}")
        with pytest.raises(PluginError) as caught:
            engine.run_queued()
        assert dict(engine.queue_status().tasks) == {"r0": "queued", "r1": "queued", "r2": "queued"}
    assert f"ConnectionError: no Dask scheduler answered at {address} within 1 s" in str(caught.value)
    assert "back at the front of the queue" in str(caught.value)


@pytest.mark.parametrize(("config", "message"), [
    ("{address: 'scheduler:8786'}", "address 'scheduler:8786' is not a scheduler address: write it as "
                                    "tcp://host:8786"),
    ("{address: 'tcp://h:8786', n_workers: 2}", "n_workers shape the LocalCluster started when no address is "
                                                "given; the cluster at tcp://h:8786 has its own workers"),
    ("{adress: 'tcp://h:8786'}", "adress: Extra inputs are not permitted"),
    ("{n_workers: 0}", "n_workers: Input should be greater than or equal to 1"),
])
def test_a_bad_config_is_a_load_error_located_at_it(tmp_path, config, message):
    project = write_project(tmp_path / "p", executor=None)
    (project / "scheduler.yaml").write_text(f"scheduler:\n  executor: dask\n  config: {config}\n")
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(project)
    (issue,) = caught.value.issues
    assert (Path(issue.file).name, issue.line, issue.message) == ("scheduler.yaml", 3, f"executor 'dask': {message}")
