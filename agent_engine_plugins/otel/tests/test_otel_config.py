"""The sink's config: every key checked when the engine is built, errors located in plugins.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from _otel_harness import DECISION_HANDLERS, decision_project, in_memory_otel, sink
from agent_engine_core.errors import ManifestError


@pytest.mark.parametrize(("config", "message"), [
    ({"endpoint": "http://localhost:4318", "exporter": "grpc"}, "unknown config key(s) 'exporter'"),
    ({"capture_content": "yes"}, "capture_content must be true or false"),
    ({"endpoint": "localhost:4318"}, "endpoint must be the OTLP/HTTP base URL"),
    ({"endpoint": "http://localhost:4318", "headers": {"x-token": 42}}, "headers must map header names"),
    ({"headers": {"authorization": "Bearer t"}}, "headers are sent to the endpoint: set endpoint too"),
    ({"service_name": ""}, "service_name must be a non-empty string"),
])
def test_otel_bad_config_is_a_load_time_error(make_engine: Any, config: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        make_engine({**decision_project(), **sink(config)}, handlers=DECISION_HANDLERS)
    text = str(caught.value)
    assert "telemetry sink 'otel' could not start" in text
    assert message in text
    assert "Bearer t" not in text


def _project_dir(root: Path, plugins_yaml: str) -> Path:
    """A config dir with a two-node workflow and the given plugins.yaml."""
    root.mkdir()
    (root / "workflow.yaml").write_text(yaml.safe_dump({"version": "1.0", "nodes": [
        {"id": "begin", "role": "start", "handler": "nodes:keep"}, {"id": "end", "role": "exit"},
    ], "edges": [{"from": "begin", "to": "end"}]}))
    (root / "nodes.py").write_text("def keep(payload, ctx):\n    return payload\n")
    (root / "plugins.yaml").write_text(plugins_yaml)
    return root


def test_otel_config_error_is_located_in_plugins_yaml(tmp_path: Path, engine_from_dir: Any) -> None:
    root = _project_dir(tmp_path / "project", "plugins:\n  - id: otel\n    config: {capture: true}\n")
    with pytest.raises(ManifestError) as caught:
        engine_from_dir(root)
    [issue] = caught.value.issues
    assert (Path(issue.file or "").name, issue.line) == ("plugins.yaml", 2)
    assert "unknown config key(s) 'capture'" in issue.message


def test_otel_workflow_is_named_after_the_config_dir(tmp_path: Path, engine_from_dir: Any) -> None:
    root = _project_dir(tmp_path / "mini_editor", "plugins:\n  - id: otel\n")
    with in_memory_otel() as recorded:
        assert engine_from_dir(root).run({"a": 1}).ok
    root_span = recorded.one("invoke_workflow mini_editor")
    assert root_span.attributes is not None
    assert root_span.attributes["gen_ai.workflow.name"] == "mini_editor"
    assert [s.name for s in recorded.spans] == ["begin", "end", "invoke_workflow mini_editor"]
