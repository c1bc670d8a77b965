"""``--debug``, ``-v``/``-vv`` and ``--log-json`` mean the same before the subcommand, after it or among its options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _cli import cli_logging_restored  # noqa: F401 - a fixture, used through pytestmark
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_core.cli import main

pytestmark = pytest.mark.usefixtures("cli_logging_restored")

HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"
INPUT = '{"request": "Hello there"}'
DEBUG_LINE = "normalized request"  # examples/hello logs it at debug level


def invoke(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def recording(tmp_path):
    path = tmp_path / "hello.json"
    assert invoke(["run", HELLO, "--input", INPUT, "--record", path]).exit_code == 0
    return path


SUBCOMMANDS = {
    "run": lambda tmp_path: ["run", HELLO, "--input", INPUT, "--run-id", "same"],
    "replay": lambda tmp_path: ["replay", HELLO, recording(tmp_path)],
    "validate": lambda tmp_path: ["validate", HELLO],
    "graph": lambda tmp_path: ["graph", HELLO],
    "plugins": lambda tmp_path: ["plugins"],
    "schema": lambda tmp_path: ["schema", "workflow"],
}


@pytest.mark.parametrize("option", ["--debug", "-v", "-vv", "--verbose", "--log-json"])
@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_subcommand_accepts_every_global_option_after_it(tmp_path, command, option):
    args = SUBCOMMANDS[command](tmp_path)
    before = invoke([option, *args])
    after = invoke([*args, option])
    assert before.exit_code == 0, before.output
    assert after.exit_code == 0, after.output
    assert "No such option" not in after.output
    assert after.stdout == before.stdout


@pytest.mark.parametrize("where", ["before", "after", "among"])
def test_verbosity_is_the_same_wherever_it_is_given(where):
    args = {
        "before": ["-vv", "run", HELLO, "--input", INPUT],
        "after": ["run", HELLO, "--input", INPUT, "-vv"],
        "among": ["run", "-v", HELLO, "-v", "--input", INPUT],
    }[where]
    assert DEBUG_LINE in invoke(args).stderr
    assert DEBUG_LINE not in invoke(["run", HELLO, "--input", INPUT, "-v"]).stderr  # -v is info: no debug lines


def test_log_json_after_the_subcommand_logs_json_lines():
    done = invoke(["run", HELLO, "--input", INPUT, "--log-json", "--debug"])
    assert done.exit_code == 0
    (line,) = [line for line in done.stderr.splitlines() if DEBUG_LINE in line]
    assert json.loads(line)["event"] == DEBUG_LINE


def test_debug_after_the_subcommand_shows_the_traceback(tmp_path):
    path = recording(tmp_path)
    data = json.loads(path.read_text())
    route = next(r for r in data["trace"]["records"] if r["agent_calls"])
    route["agent_calls"][0]["reply"]["content"] = '{"selected_edge": "farewell"}'
    path.write_text(json.dumps(data))
    quiet = invoke(["replay", HELLO, path])
    loud = invoke(["replay", HELLO, path, "--debug"])
    assert quiet.exit_code == loud.exit_code == 1
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and "ReplayMismatch" in loud.stderr


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    run_args=st.permutations([("--input", INPUT), ("--run-id", "g"), ("--json",), (str(HELLO),)]),
    placements=st.lists(st.sampled_from(["-v", "--verbose"]), min_size=2, max_size=3).flatmap(
        lambda flags: st.tuples(st.just(flags), st.lists(st.integers(0, 5), min_size=len(flags),
                                                         max_size=len(flags)))),
)
def test_verbose_flags_anywhere_add_up(run_args, placements):
    """Any placement of two or more -v among the run's arguments (never inside an option's value) is -vv."""
    flags, positions = placements
    groups = [list(group) for group in run_args]
    for flag, position in zip(flags, positions, strict=True):
        groups.insert(min(position, len(groups)), [flag])
    done = invoke(["run", *[token for group in groups for token in group]])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["task_id"] == "g"
    assert DEBUG_LINE in done.stderr


def test_global_options_are_listed_in_each_subcommand_help():
    for command in SUBCOMMANDS:
        text = invoke([command, "--help"]).stdout
        assert "--debug" in text and "-v, --verbose" in text and "--log-json" in text, command
    assert "may also be given after the command" in invoke(["--help"]).stdout
