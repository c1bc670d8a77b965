"""``agent-engine run`` and ``graph`` as a user runs them: a real process, its output and its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent_engine_core import Engine

ROOT = Path(__file__).resolve().parents[1]
HELLO = ROOT / "examples" / "hello"
MAP_REDUCE = ROOT / "examples" / "map_reduce"
_SCRIPT = Path(sys.executable).with_name("agent-engine")
_FALLBACK = [sys.executable, "-c", "from agent_engine_core.cli import main; main()"]
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else _FALLBACK

RESULT_KEYS = {"task_id", "status", "output", "error", "trace_digest", "metadata", "usage"}


def cli(*args, cwd=None):
    env = {**os.environ, "PYTHONHASHSEED": "0", "NO_COLOR": "1"}
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env=env, check=False)


def no_traceback(done):
    assert "Traceback" not in done.stdout + done.stderr
    assert 'File "' not in done.stderr


def project(tmp_path, workflow, **files):
    """A config dir with ``workflow.yaml`` and any other files (name -> text)."""
    (tmp_path / "workflow.yaml").write_text(textwrap.dedent(workflow))
    for name, text in files.items():
        (tmp_path / name.replace("__", ".")).write_text(textwrap.dedent(text))
    return tmp_path


LINEAR = """
    version: "1.0"
    nodes:
      - {id: s, role: start}
      - {id: work, role: linear, handler: "steps:work", continue_on_failure: %s}
      - {id: x, role: exit}
    edges:
      - {from: s, to: work}
      - {from: work, to: x}
"""

STEPS = """
    from agent_engine_core import NodeFailure

    def work(payload, ctx):
        if payload.get("fail"):
            raise NodeFailure("asked to fail", data={"input": payload})
        return {"done": payload}
"""


# ---- run --json ---------------------------------------------------------------------------------------------


def test_run_json_prints_one_result_object_and_exits_0():
    done = cli("run", HELLO, "--input", '{"request": "Hello there"}', "--run-id", "cli-1", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # exactly one JSON document on stdout
    assert set(result) == RESULT_KEYS
    assert result["task_id"] == "cli-1"
    assert result["status"] == "success"
    assert result["output"] == {"reply": "Hello! You said 2 word(s).", "in_reply_to": "Hello there"}
    assert result["error"] is None
    assert result["usage"] == {"agent_calls": 1, "input_tokens": 0, "output_tokens": 0}
    assert set(result["metadata"]) >= {"engine_version", "manifests", "schemas", "providers"}
    assert set(result["metadata"]["manifests"]) == {"agents", "workflow"}
    expected = Engine.from_config_dir(HELLO).run({"request": "Hello there"}, run_id="cli-1")
    assert result["trace_digest"] == expected.trace.digest
    no_traceback(done)


def test_same_run_id_gives_the_same_digest_across_processes():
    args = ("run", MAP_REDUCE, "--input", json.dumps({"text": "One two.\n\nThree four five.\n\nSix."}),
            "--run-id", "mr", "--json")
    first, second = cli(*args), cli(*args)
    assert first.returncode == second.returncode == 0, first.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["trace_digest"] == b["trace_digest"]
    assert a["output"]["paragraphs"] == 3
    assert [p["index"] for p in a["output"]["per_paragraph"]] == [0, 1, 2]


def test_run_failure_exits_1_with_a_structured_error(tmp_path):
    config = project(tmp_path, LINEAR % "false", steps__py=STEPS)
    done = cli("run", config, "--input", '{"fail": true}', "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "failure"
    assert result["error"] == {"node_id": "work", "kind": "handler", "message": "asked to fail",
                               "details": {"input": {"fail": True}}}
    no_traceback(done)


def test_run_partial_exits_3(tmp_path):
    config = project(tmp_path, LINEAR % "true", steps__py=STEPS)
    done = cli("run", config, "--input", '{"fail": true}', "--json")
    assert done.returncode == 3
    result = json.loads(done.stdout)
    assert result["status"] == "partial"
    assert result["output"] == {"fail": True}
    assert result["error"]["node_id"] == "work"


def test_run_without_json_prints_status_and_the_error_on_stderr(tmp_path):
    config = project(tmp_path, LINEAR % "false", steps__py=STEPS)
    done = cli("run", config, "--input", '{"fail": true}')
    assert done.returncode == 1
    assert "status: failure" in done.stdout
    assert "[handler] at node 'work': asked to fail" in done.stderr
    ok = cli("run", config, "--input", '{"fail": false}')
    assert ok.returncode == 0
    assert "status: success" in ok.stdout


def test_input_file_and_start(tmp_path):
    config = project(tmp_path, """
        version: "1.0"
        nodes:
          - {id: main, role: start, default_start: true}
          - {id: alt, role: start, handler: "steps:work"}
          - {id: m, role: merge}
          - {id: x, role: exit}
        edges:
          - {from: main, to: m}
          - {from: alt, to: m}
          - {from: m, to: x}
    """, steps__py=STEPS)
    (tmp_path / "input.json").write_text('{"n": 1}')
    done = cli("run", config, "--input-file", tmp_path / "input.json", "--start", "alt", "--json")
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout)["output"]["merge_inputs"]
    assert (item["from_node"], item["output"]) == ("alt", {"done": {"n": 1}})


# ---- exit code 2: the caller has something to fix -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--input", "{not json"), "--input is not valid JSON"),
        (("--input", "{}", "--start", "nowhere"), "'nowhere' is not a start node"),
        ((), "the task input is missing"),
    ],
    ids=["bad-input-json", "unknown-start", "no-input"],
)
def test_usage_errors_exit_2_without_traceback(args, message):
    done = cli("run", HELLO, *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stdout == ""
    no_traceback(done)


def test_input_that_fails_the_start_schema_is_a_failed_run_not_a_crash():
    done = cli("run", HELLO, "--input", '{"wrong": 1}', "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["kind"] == "schema_in"
    no_traceback(done)


def test_invalid_manifest_exits_2_listing_every_located_issue(tmp_path):
    config = project(tmp_path, """
        version: "1.0"
        nodes:
          - {id: s, role: start, continue_on_failur: true}
          - {id: x, role: exitt}
        edges:
          - {from: s, to: x}
    """)
    done = cli("run", config, "--input", "{}")
    assert done.returncode == 2
    assert "2 problems" in done.stderr
    assert "workflow.yaml:4" in done.stderr and "did you mean 'continue_on_failure'?" in done.stderr
    assert "workflow.yaml:5" in done.stderr and "did you mean 'exit'?" in done.stderr
    no_traceback(done)


def test_handler_module_that_raises_at_import_exits_2_without_traceback(tmp_path):
    config = project(tmp_path, LINEAR % "false", steps__py="""
        raise RuntimeError("steps cannot be imported today")
    """)
    done = cli("run", config, "--input", "{}")
    assert done.returncode == 2
    assert "cannot import module 'steps'" in done.stderr
    assert "RuntimeError: steps cannot be imported today" in done.stderr
    assert "workflow.yaml:5" in done.stderr
    no_traceback(done)


def test_missing_config_dir_exits_2(tmp_path):
    done = cli("run", tmp_path / "nope", "--input", "{}")
    assert done.returncode == 2
    assert "does not exist" in done.stderr
    no_traceback(done)


def test_unsupported_manifest_exits_2(tmp_path):
    config = project(tmp_path, LINEAR % "false", steps__py=STEPS, evaluations__yaml="evaluations: []\n")
    done = cli("run", config, "--input", "{}")
    assert done.returncode == 2
    assert "manifest" in done.stderr and "evaluations" in done.stderr
    no_traceback(done)


# ---- graph ---------------------------------------------------------------------------------------------------


def test_graph_prints_a_mermaid_flowchart_with_role_shapes_and_edge_labels():
    done = cli("graph", HELLO)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    n_normalize(["normalize · start"])' in lines
    assert '    n_route{"route · decision · agent"}' in lines
    assert '    n_greet["greet · linear"]' in lines
    assert '    n_greeted((("greeted · exit")))' in lines
    assert '    n_route -->|"greet"| n_greet' in lines
    assert '    n_route -->|"farewell"| n_farewell' in lines
    assert "    n_normalize --> n_route" in lines
    assert "    class n_route agent" in lines


def test_graph_shapes_for_fan_out_roles():
    done = cli("graph", MAP_REDUCE)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert 'n_split_paragraphs[/"split_paragraphs · split"\\]' in out
    assert 'n_analyse{{"analyse · branch"}}' in out
    assert 'n_combine_stats[\\"combine_stats · merge"/]' in out
    assert "    n_analyse --> n_count_words" in out
    assert "classDef agent" not in out  # no agent nodes in this example
    edges = [line for line in out.splitlines() if "-->" in line]
    assert len(edges) == 9


def test_graph_escapes_labels_and_ids(tmp_path):
    config = project(tmp_path, """
        version: "1.0"
        nodes:
          - {id: my-start, name: 'Say "hi"', role: start}
          - {id: pick.one, role: decision, handler: "steps:work"}
          - {id: a, role: exit}
          - {id: b, role: exit}
        edges:
          - {from: my-start, to: pick.one}
          - {from: pick.one, to: a, label: 'say "a"'}
          - {from: pick.one, to: b, label: b}
    """, steps__py=STEPS)
    done = cli("graph", config)
    assert done.returncode == 0, done.stderr
    assert 'n_my_start(["Say #34;hi#34; · start"])' in done.stdout
    assert 'n_pick_one -->|"say #34;a#34;"| n_a' in done.stdout


def test_graph_of_an_invalid_project_exits_2(tmp_path):
    config = project(tmp_path, """
        version: "1.0"
        nodes:
          - {id: s, role: start}
    """)
    done = cli("graph", config)
    assert done.returncode == 2
    no_traceback(done)
