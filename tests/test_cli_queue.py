"""``agent-engine queue DIR --inputs FILE.jsonl``: one task per line, summary, exit codes (issue 14, part 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_engine_core.cli import main

HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"


@pytest.fixture
def project(tmp_path):
    target = tmp_path / "hello"
    shutil.copytree(HELLO, target, ignore=shutil.ignore_patterns(".agent_engine", "__pycache__"))
    return target


def queue(project, lines, *args):
    inputs = project.parent / "inputs.jsonl"
    inputs.write_text("".join(line + "\n" for line in lines))
    done = CliRunner().invoke(main, ["queue", str(project), "--inputs", str(inputs), "--no-store", *args])
    return done.exit_code, done.stdout, done.stderr


def test_every_line_runs_and_json_gives_one_result_per_line_in_input_order(project):
    requests = ["Hello there", "Bye now", "Hello again, friend"]
    code, out, err = queue(project, [json.dumps({"request": r}) for r in requests], "--json", "--concurrency", "2")
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["status"] for r in results] == ["success"] * 3
    assert [r["output"]["in_reply_to"] for r in results] == requests
    assert "success" in err and "slowest" in err


def test_a_bad_line_is_reported_with_its_number_and_the_others_still_run(project):
    code, out, err = queue(project, ['{"request": "Hello there"}', "{nope", '{"request": "Bye now"}'], "--json")
    assert code == 2
    assert len(out.splitlines()) == 2
    assert "inputs.jsonl:2: not JSON" in err
    assert "Traceback" not in err


def test_a_failed_task_makes_the_exit_code_3(project):
    code, _, err = queue(project, ['{"request": "Hello there"}', '{"request": ""}'])
    assert code == 3
    assert "1: run-" in err and "failure" in err  # a plain line per task when stderr is not a terminal


def test_more_lines_than_the_queue_holds_all_run(project):
    (project / "scheduler.yaml").write_text("scheduler:\n  max_queue_size: 2\n")
    code, out, err = queue(project, [json.dumps({"request": f"Hello number {i}"}) for i in range(7)], "--json")
    assert code == 0, err
    assert [json.loads(line)["output"]["in_reply_to"] for line in out.splitlines()] == [
        f"Hello number {i}" for i in range(7)]
