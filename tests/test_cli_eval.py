"""``agent-engine eval`` as a user and a CI job run it: a real process, its table or JSON, JUnit XML, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _cli import COMMAND

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [ROOT / "examples" / "hello", ROOT / "examples" / "map_reduce"]


def cli(*args):
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, timeout=120, env=env,
                          check=False)


def no_traceback(done):
    assert "Traceback" not in done.stdout + done.stderr


@pytest.fixture
def hello(tmp_path):
    root = tmp_path / "hello"
    shutil.copytree(ROOT / "examples" / "hello", root, ignore=shutil.ignore_patterns("__pycache__", ".agent_engine"))
    return root


def cases(root, text):
    (root / "evaluations.yaml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_passes_its_own_evaluations(example):
    done = cli("eval", example)
    no_traceback(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("2 passed, 0 failed")


def test_a_failing_case_exits_1_naming_the_assertion_and_what_the_run_did(hello, tmp_path):
    cases(hello, """\
evaluations:
  - id: routes_wrong
    input: {request: "Hello there"}
    assertions:
      - {type: decision, node: route, expected: farewell}
      - {type: contains, path: /reply, expected: "Goodbye"}
  - id: fine
    input: {request: "Hello there"}
    assertions:
      - {type: status, expected: success}
""")
    junit = tmp_path / "out" / "eval.xml"
    done = cli("eval", hello, "--junit", junit)
    no_traceback(done)
    assert done.returncode == 1
    assert "FAIL default/routes_wrong (task eval-default-routes_wrong): decision: decision 'route' took 'greet', " \
           "expected 'farewell'" in done.stdout
    assert 'contains: /reply ("Hello! You said 2 word(s).") does not contain "Goodbye"' in done.stdout
    assert done.stdout.rstrip().endswith("1 passed, 1 failed")
    suite = ET.parse(junit).getroot().find("testsuite")
    assert [(c.get("name"), c.find("failure") is not None) for c in suite.iter("testcase")] == [
        ("routes_wrong", True), ("fine", False)]


def test_json_lists_every_verdict_with_the_actual_values(hello):
    cases(hello, """\
evaluations:
  - id: budget
    input: {request: "Bye now"}
    assertions:
      - {type: max_agent_calls, expected: 0}
""")
    done = cli("eval", hello, "--json")
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert (data["passed"], data["failed"]) == (0, 1)
    (case,) = data["cases"]
    assert case["assertions"] == [{"type": "max_agent_calls", "passed": False, "expected": 0, "actual": 1,
                                   "message": "the run made 1 agent calls, at most 0 allowed"}]


def test_case_selects_cases_and_repeat_reports_a_pass_rate(hello):
    cases(hello, """\
evaluations:
  - id: a
    input: {request: "Hi"}
    assertions: [{type: status, expected: success}]
  - id: b
    input: {request: "Hi"}
    assertions: [{type: status, expected: failure}]
""")
    done = cli("eval", hello, "--case", "a", "--repeat", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "default/a" in done.stdout and "default/b" not in done.stdout
    assert "3/3" in done.stdout and done.stdout.rstrip().endswith("3 passed, 0 failed")
    unknown = cli("eval", hello, "--case", "c")
    assert (unknown.returncode, unknown.stderr.strip()) == (2, "error: no evaluation case 'c'")


@pytest.mark.parametrize(("text", "located"), [
    ("evaluations:\n  - id: a\n    assertions:\n      - {type: looks_like, expected: 1}\n", "evaluations.yaml:4"),
    ("evaluations:\n  - id: a\n    assertions:\n      - {type: decision, node: rout, expected: greet}\n",
     "evaluations.yaml:4"),
    ("evaluations:\n  - id: a\n    assertions:\n      - {type: decision, node: greet, expected: x}\n",
     "evaluations.yaml:4"),
    ("evaluations:\n  - id: a\n    start: nowhere\n    assertions: [{type: status, expected: success}]\n",
     "evaluations.yaml:3"),
    ("evaluations:\n  - id: a\n    assertions: [{type: schema_valid, schema: replies}]\n", "evaluations.yaml:3"),
])
def test_a_malformed_case_is_a_located_load_error_exit_2_never_a_pass(hello, text, located):
    cases(hello, text)
    done = cli("eval", hello)
    no_traceback(done)
    assert done.returncode == 2
    assert located in done.stderr, done.stderr
    assert "passed" not in done.stdout


def test_a_project_without_evaluations_exits_2(tmp_path):
    root = tmp_path / "hello"
    shutil.copytree(ROOT / "examples" / "hello", root, ignore=shutil.ignore_patterns("evaluations.yaml"))
    done = cli("eval", root)
    assert (done.returncode, done.stderr.strip()) == (2, f"error: {root} has no evaluations.yaml")


def test_a_live_provider_is_refused_unless_live_is_given(hello, monkeypatch):
    pytest.importorskip("agent_engine_openai", reason="a live provider: agent-engine-openai's")
    agents = hello / "agents.yaml"
    agents.write_text(agents.read_text(encoding="utf-8").replace('llm: "scripted/router"', 'llm: "openai/gpt-x"'),
                      encoding="utf-8")
    (hello / "provider_credentials.yaml").write_text(
        "provider_credentials:\n  - id: openai_default\n    provider: openai\n"
        "    auth: {type: api_key, source: env, env_var: EVAL_TEST_KEY}\n"
        "    config: {base_url: 'http://127.0.0.1:9/v1'}\n", encoding="utf-8")
    monkeypatch.setenv("EVAL_TEST_KEY", "sk-not-used")
    done = cli("eval", hello)
    no_traceback(done)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == ("error: agent 'router' (openai) would call a live provider; pass --live to "
                                   "evaluate with it, or answer it with the scripted or replay provider")
    assert "sk-not-used" not in done.stdout + done.stderr
