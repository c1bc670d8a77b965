"""``agent-engine replay DIR FILE`` with a FILE that is not a recording: a located refusal, exit 2, no traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from _cli import cli_logging_restored  # noqa: F401 - a fixture, used through pytestmark
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine, InvalidInput, Trace
from agent_engine_core.cli import main
from agent_engine_core.replay import load_recording

pytestmark = pytest.mark.usefixtures("cli_logging_restored")

HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"
WHAT_A_RECORDING_IS = ("A recording is a run id in the project's run store ('agent-engine inspect DIR runs'), the "
                       "result saved by 'agent-engine run DIR --input JSON --record FILE.json'")


@pytest.fixture(scope="module")
def saved_result():
    return Engine.from_config_dir(HELLO).run({"request": "Hello there"}, run_id="rec").to_dict(with_trace=True)


def replay(*args):
    return CliRunner().invoke(main, ["replay", str(HELLO), *map(str, args)])


def make(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    return path


CASES = [  # files that are not .json are read as telemetry-jsonl traces: see that distribution's tests
    pytest.param("notes.json", "hello, world\n", "notes.json:1:1: not JSON (Expecting value)", id="json-not-json"),
    pytest.param("package.json", '{"name": "x", "version": "1"}', "package.json: it is not a recording: run_id: "
                 "Field required; tasks: Field required; records: Field required", id="other-json-object"),
    pytest.param("list.json", "[1, 2]", "list.json: it is not a recording: (top level): a JSON object is needed, "
                 "not an array", id="json-array"),
    pytest.param("half.json", '{"trace": {"run_id": "r", "tasks": [], "records": [{"seq": "1"}]}}',
                 "half.json: it is not a recording: trace.records.0.task_id: Field required", id="wrong-shape"),
    pytest.param("empty.json", "", "empty.json: the file is empty", id="empty-json"),
]


@pytest.mark.parametrize(("name", "content", "problem"), CASES)
def test_what_is_not_a_recording_is_refused_located_with_exit_2(tmp_path, name, content, problem):
    path = make(tmp_path, name, content)
    done = replay(path)
    assert done.exit_code == 2, done.output
    assert done.stdout == ""
    first, hint = done.stderr.splitlines()
    assert first.startswith(f"error: cannot replay {tmp_path}/")
    assert problem in first
    assert hint.startswith(WHAT_A_RECORDING_IS)
    assert "Traceback" not in done.stderr and "KeyError" not in done.stderr


def test_a_missing_file_is_refused_with_what_a_recording_is(tmp_path):
    done = replay(tmp_path / "nowhere.json")
    assert done.exit_code == 2
    assert f"error: cannot replay {tmp_path}/nowhere.json: no such file or folder" in done.stderr
    assert WHAT_A_RECORDING_IS in done.stderr


def test_a_wrong_type_deep_inside_is_located_by_its_path(tmp_path, saved_result):
    data = copy.deepcopy(saved_result)
    data["trace"]["records"][1]["seq"] = "2"
    done = replay(make(tmp_path, "typed.json", json.dumps(data)))
    assert done.exit_code == 2
    assert "trace.records.1.seq: Input should be a valid integer" in done.stderr


def test_a_real_recording_still_replays(tmp_path, saved_result):
    done = replay(make(tmp_path, "ok.json", json.dumps(saved_result)))
    assert done.exit_code == 0, done.output
    assert "matches the recording of run rec" in done.stdout


def _paths(value, prefix=()):
    """Every path into a JSON value, containers included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
JSON = SCALAR | st.lists(SCALAR, max_size=3) | st.dictionaries(st.text(max_size=5), SCALAR, max_size=3)
"""Any JSON value a damaged file could hold where a recording has one (nested one level)."""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), replacement=st.one_of(st.just("<delete>"), JSON))
def test_any_damage_to_a_recording_gives_a_trace_or_invalid_input_never_anything_else(saved_result, data,
                                                                                       replacement):
    recording = copy.deepcopy(saved_result)
    paths = [p for p in _paths(recording) if p]
    path = data.draw(st.sampled_from(paths))
    parent = recording
    for step in path[:-1]:
        parent = parent[step]
    if replacement == "<delete>":
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    try:
        trace = load_recording(recording)
    except InvalidInput as exc:
        assert "it is not a recording: " in str(exc)
    else:
        assert isinstance(trace, Trace)


@settings(max_examples=100, deadline=None)
@given(value=JSON)
def test_any_json_value_gives_a_trace_or_invalid_input(value):
    try:
        load_recording({"trace": value})
    except InvalidInput as exc:
        assert "it is not a recording: trace" in str(exc)
