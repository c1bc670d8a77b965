"""``agent-engine queue`` on the dask executor, run as a user runs it: a process of its own, on the cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _dask_projects import write_project
from agent_engine_core import Engine

AGENT_ENGINE = str(Path(sys.executable).parent / "agent-engine")


def queue(project: Path, inputs: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT_ENGINE, "queue", str(project), "--inputs", str(inputs), "--json"],
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_queue_command_runs_every_line_on_the_cluster_with_the_digests_of_a_local_run(cluster, tmp_path):
    project = write_project(tmp_path / "p", executor={"address": cluster.scheduler_address})
    values = [{"n": i} for i in range(7)]
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(json.dumps(v) + "\n" for v in values) + "not json\n")
    done = queue(project, inputs)
    assert done.returncode == 2, done.stderr  # the bad line: reported, the others ran
    assert f"{inputs}:8: not JSON" in done.stderr and "Traceback" not in done.stderr
    shown = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["status"] for r in shown] == ["success"] * 7
    assert {r["metadata"]["executor"]["name"] for r in shown} == {"dask"}
    with Engine.from_config_dir(write_project(tmp_path / "local", executor=None)) as local:
        for value, result in zip(values, shown, strict=True):
            local.enqueue(value, run_id=result["task_id"])
        alone = local.run_queued()
    assert [(r["output"], r["trace_digest"]) for r in shown] == [(r.output, r.trace.digest) for r in alone]
    with Engine.from_config_dir(project, runs="local") as engine:  # the runs the command kept (SQLite)
        kept = {run.run_id for run in engine.inspector.runs()}
    assert {r["task_id"] for r in shown} <= kept


def test_a_file_backend_makes_the_queue_command_exit_2_with_the_reason_and_no_traceback(tmp_path):
    project = write_project(tmp_path / "p", executor={"address": "tcp://127.0.0.1:1"})
    (project / "memory.yaml").write_text("memory:\n  project_store: {backend: sqlite}\n")
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"n": 1}\n')
    done = queue(project, inputs)
    assert done.returncode == 2 and not done.stdout
    assert "memory.yaml:2" in done.stderr and "file-based backend 'sqlite'" in done.stderr
    assert "Traceback" not in done.stderr
