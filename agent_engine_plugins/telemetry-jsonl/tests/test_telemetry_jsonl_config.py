"""The sink's config: defaults, path resolution, and bad values refused at load time, located in plugins.yaml."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from _telemetry_jsonl_support import (
    BRANCH_MERGE,
    HANDLERS,
    telemetry_jsonl_discovery,  # noqa: F401 - a fixture, used through pytestmark
    trace_files,
    with_sink,
)
from agent_engine_core import ManifestError

from agent_engine_telemetry_jsonl import TraceFileSink

pytestmark = pytest.mark.usefixtures("telemetry_jsonl_discovery")

WORKFLOW_YAML = """\
version: "1.0"
nodes:
  - {id: s, role: start}
  - {id: e, role: exit}
edges:
  - {from: s, to: e}
"""

BAD = [
    pytest.param({"path": "t", "max_size": 10}, r"unknown config key 'max_size'; trace_file accepts path, "
                 r"max_bytes, backups", id="unknown-key"),
    pytest.param({"max_bytes": -1}, r"config\.max_bytes must be a whole number >= 0, got -1", id="negative-size"),
    pytest.param({"backups": -3}, r"config\.backups must be a whole number >= 0, got -3", id="negative-backups"),
    pytest.param({"max_bytes": "10MB"}, r"config\.max_bytes must be a whole number >= 0, got '10MB'",
                 id="size-as-text"),
    pytest.param({"backups": True}, r"config\.backups must be a whole number >= 0, got True", id="bool"),
    pytest.param({"path": ""}, r"config\.path must be a folder path \(text\), got ''", id="empty-path"),
    pytest.param({"path": 7}, r"config\.path must be a folder path \(text\), got 7", id="path-not-text"),
    pytest.param({"path": "notes.txt"}, r"notes\.txt' is a file, not a folder; point path at a folder",
                 id="path-is-a-file"),
    pytest.param({"path": "notes.txt/deeper"}, r"deeper' cannot be a folder: '.*notes\.txt' is a file",
                 id="path-under-a-file"),
]


@pytest.mark.parametrize(("config", "message"), BAD)
def test_the_factory_refuses_bad_config_with_a_clear_value_error(tmp_path, config, message):
    (tmp_path / "notes.txt").write_text("not a folder")
    with pytest.raises(ValueError, match=message):
        TraceFileSink.from_config(config, tmp_path)


@pytest.mark.parametrize(("config", "message"), BAD)
def test_bad_config_is_a_manifest_error_located_in_plugins_yaml(engine_from_dir, tmp_path, config, message):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("not a folder")
    (project / "workflow.yaml").write_text(WORKFLOW_YAML)
    (project / "plugins.yaml").write_text(textwrap.dedent(f"""\
        # recording
        plugins:
          - id: trace_file
            config: {json.dumps(config)}
        """))
    with pytest.raises(ManifestError) as caught:
        engine_from_dir(project)
    (issue,) = caught.value.issues
    assert Path(issue.file or "").name == "plugins.yaml"
    assert (issue.line, issue.code) == (3, "plugins.invalid")
    assert issue.message.startswith("telemetry sink 'trace_file' could not start: ")
    assert re.search(message, issue.message), issue.message


def test_defaults_and_nothing_is_created_before_the_first_event(tmp_path):
    sink = TraceFileSink.from_config({}, tmp_path)
    assert sink.config.directory == tmp_path / ".agent_engine" / "traces"
    assert (sink.config.max_bytes, sink.config.backups) == (10 * 1024 * 1024, 5)
    assert not (tmp_path / ".agent_engine").exists()  # loading (agent-engine validate) writes nothing


def test_a_relative_path_is_resolved_against_the_project_or_else_the_current_directory(
    make_engine, tmp_path, monkeypatch
):
    project, elsewhere = tmp_path / "project", tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    make_engine(with_sink(BRANCH_MERGE, {"path": "rel"}), handlers=HANDLERS, base_dir=project).run(
        {"items": [1]}, run_id="p")
    make_engine(with_sink(BRANCH_MERGE, {}), handlers=HANDLERS).run({"items": [1]}, run_id="c")
    absolute = tmp_path / "abs"
    make_engine(with_sink(BRANCH_MERGE, {"path": str(absolute)}), handlers=HANDLERS, base_dir=project).run(
        {"items": [1]}, run_id="a")
    assert trace_files(tmp_path) == [absolute / "a.jsonl", elsewhere / ".agent_engine" / "traces" / "c.jsonl",
                                     project / "rel" / "p.jsonl"]
