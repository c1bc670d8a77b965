"""The dask executor gives the results a local run gives: per task the same status, output and trace digest."""

from __future__ import annotations

from _dask_projects import run_all, write_project
from agent_engine_core import Engine
from agent_engine_core.executors import RemoteTask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_dask import task_key

INPUTS = st.lists(st.fixed_dictionaries({"n": st.integers(-10**6, 10**6)},
                                        optional={"note": st.text(max_size=20)}), min_size=1, max_size=6)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(inputs=INPUTS)
def test_each_task_has_the_digest_output_and_status_of_a_local_run(cluster, tmp_path_factory, inputs):
    root = tmp_path_factory.mktemp("same")
    on_dask = write_project(root / "dask", executor={"address": cluster.scheduler_address})
    local = write_project(root / "local", executor=None)
    with Engine.from_config_dir(on_dask) as there, Engine.from_config_dir(local) as here:
        remote, alone = run_all(there, inputs), run_all(here, inputs)
    assert [r.task_id for r in remote] == [f"r{i}" for i in range(len(inputs))]  # queue order
    for a, b in zip(remote, alone, strict=True):
        assert (a.trace.digest, a.status, a.output, a.error) == (b.trace.digest, b.status, b.output, b.error)
        executor = a.metadata["executor"]
        assert (executor["name"], executor["attempt"]) == ("dask", 1)
        assert executor["worker"] in cluster.scheduler_info["workers"]
        assert "executor" not in b.metadata


def test_tasks_spread_over_both_workers_and_each_is_kept_in_the_run_store(cluster, tmp_path):
    project = write_project(tmp_path / "p", executor={"address": cluster.scheduler_address})
    with Engine.from_config_dir(project) as engine:
        results = run_all(engine, [{"n": i, "sleep": 0.1} for i in range(8)])
        assert {r.metadata["executor"]["worker"] for r in results} == set(cluster.scheduler_info["workers"])
        stored = [engine.inspector.run(r.task_id) for r in results]
        assert [s.trace.digest for s in stored] == [r.trace.digest for r in results]
        assert stored[3].result["metadata"]["executor"] == dict(results[3].metadata["executor"])
        assert [a["node_id"] for a in stored[3].artifacts()] == ["s", "d", "odd", "x"]
        assert engine.queue_status().counts["success"] == 8


def test_dask_keys_come_from_the_run_id_and_what_the_task_runs():
    task = RemoteTask("run-7", '{"n":1}', "s", "/p", "f" * 64)
    assert task_key(task) == task_key(RemoteTask("run-7", '{"n":1}', "s", "/elsewhere", "f" * 64))
    assert task_key(task).startswith("agent-engine-run-7-")
    others = [RemoteTask("run-8", '{"n":1}', "s", "/p", "f" * 64), RemoteTask("run-7", '{"n":2}', "s", "/p", "f" * 64),
              RemoteTask("run-7", '{"n":1}', "t", "/p", "f" * 64), RemoteTask("run-7", '{"n":1}', "s", "/p", "e" * 64)]
    assert len({task_key(t) for t in [task, *others]}) == 5
