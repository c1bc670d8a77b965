"""Memory the workers share: PostgreSQL through agent-engine-memory-postgres; a file-based backend is refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from _dask_projects import MEMORY, run_all, write_project
from agent_engine_core import Engine, ManifestError


def test_project_memory_in_postgres_is_shared_by_every_worker_and_the_client(cluster, tmp_path, postgres_server):
    store = {"backend": "postgres", "config": {"dsn": postgres_server.dsn(), "schema": f"t_{uuid.uuid4().hex[:12]}",
                                               "pool": {"min_size": 0, "max_size": 2}}}
    project = write_project(tmp_path / "p", executor={"address": cluster.scheduler_address}, workflow=MEMORY,
                            memory={"memory": {"project_id": "shared", "project_store": store}})
    with Engine.from_config_dir(project) as engine:
        wrote = run_all(engine, [{"op": "write", "n": i, "sleep": 0.05} for i in range(8)], prefix="w")
        counted = run_all(engine, [{"op": "count", "sleep": 0.1} for _ in range(6)], prefix="c")
        items = engine.memory.project.query(tags=["seen"])
    assert all(r.ok for r in wrote + counted)
    assert sorted(item.payload["n"] for item in items) == list(range(8))
    assert len({item.payload["pid"] for item in items}) == 2  # written from both worker processes
    assert [r.output for r in counted] == [{"count": 8}] * 6  # every worker reads what both wrote
    assert {r.metadata["executor"]["worker"] for r in wrote + counted} == set(cluster.scheduler_info["workers"])


@pytest.mark.parametrize(("store", "backend"), [("project_store", "sqlite"), ("global_store", "jsonl"),
                                                ("task_store", "file")])
def test_a_file_based_memory_backend_with_the_dask_executor_is_a_load_error_saying_why(tmp_path, store, backend):
    project = write_project(tmp_path / "p", executor={"address": "tcp://127.0.0.1:1"})
    (project / "memory.yaml").write_text(f"memory:\n  {store}:\n    backend: {backend}\n")
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(project)
    (issue,) = caught.value.issues
    assert (Path(issue.file).name, issue.line, issue.code) == ("memory.yaml", 3, "memory.backend_not_shared")
    assert issue.message.startswith(f"memory store {store} uses the file-based backend '{backend}', which the dask "
                                    "executor cannot share: each Dask worker is a process of its own")
    assert "backend: postgres" in issue.hint
    assert not (project / ".agent_engine").exists()  # refused before any file was opened
