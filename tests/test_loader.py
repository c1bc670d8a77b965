"""Loading a project: ``Engine.from_dict`` and ``from_config_dir``, handler imports, metadata, ``validate``."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent_engine_core import Engine
from agent_engine_core.errors import ManifestError

WriteProject = Callable[..., Path]

CLI = Path(sys.executable).with_name("agent-engine")


def chain(handler: str | None = None, **start: Any) -> dict[str, Any]:
    """workflow: a (start) -> work (linear, ``handler``) -> z (exit)."""
    work: dict[str, Any] = {"id": "work", "role": "linear"}
    if handler is not None:
        work["handler"] = handler
    return {
        "version": "1.0",
        "nodes": [{"id": "a", "role": "start", **start}, work, {"id": "z", "role": "exit"}],
        "edges": [{"from": "a", "to": "work"}, {"from": "work", "to": "z"}],
    }


def test_from_dict_with_inline_schemas() -> None:
    schemas = {"request": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}}
    engine = Engine.from_dict({"workflow": chain(schema_in="request"), "schemas": schemas})
    assert engine.run({"text": "hi"}).output == {"text": "hi"}
    failed = engine.run({"txt": "hi"})
    assert failed.status == "failure"
    assert failed.error is not None
    assert (failed.error["node_id"], failed.error["kind"]) == ("a", "schema_in")


def test_from_dict_handlers_mapping_needs_no_module() -> None:
    engine = Engine.from_dict(
        {"workflow": chain("shout")}, handlers={"shout": lambda payload, ctx: payload.upper()}
    )
    assert engine.run("hi").output == "HI"


def test_from_dict_handler_names_that_resolve_nowhere_are_located() -> None:
    with pytest.raises(ManifestError) as info:
        Engine.from_dict({"workflow": chain("shout")}, handlers={"shuot": lambda payload, ctx: payload})
    (issue,) = info.value.issues
    assert (issue.code, issue.file, issue.node_id, issue.line) == ("dag.handler_import", "<workflow>", "work", None)


def test_from_dict_imports_handlers_and_schemas_from_base_dir(write_project: WriteProject) -> None:
    base = write_project({
        "base_dir_handlers.py": "def double(payload, ctx):\n    return payload * 2\n",
        "schemas/number.json": {"type": "integer"},
    })
    engine = Engine.from_dict({"workflow": chain("base_dir_handlers:double", schema_in="number")}, base_dir=base)
    assert engine.run(21).output == 42
    assert engine.run("21").status == "failure"
    digest = hashlib.sha256((base / "schemas/number.json").read_bytes()).hexdigest()
    assert engine.metadata["schemas"]["number"] == digest


def test_from_dict_issues_name_the_manifest_and_the_node() -> None:
    workflow = chain()
    workflow["nodes"][1]["rol"] = "linear"
    with pytest.raises(ManifestError) as info:
        Engine.from_dict({"workflow": workflow, "agnets": {"agents": []}})
    issues = {(i.code, i.file, i.node_id, i.hint) for i in info.value.issues}
    assert issues == {
        ("manifest.extra_field", "<workflow>", "work", "did you mean 'role'?"),
        ("manifest.unknown_file", "<agnets>", None, "did you mean 'agents'?"),
    }


def test_from_dict_reports_invalid_inline_schemas() -> None:
    with pytest.raises(ManifestError) as info:
        Engine.from_dict({"workflow": chain(schema_in="request"), "schemas": {"request": {"type": 3}}})
    assert {(i.code, i.file) for i in info.value.issues} == {
        ("schema.invalid", "<schemas/request>"),
        ("dag.unknown_schema", "<workflow>"),
    }


def test_two_config_dirs_each_load_their_own_nodes_module(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "nodes", raising=False)  # restored (or removed) after the test
    workflow = {"workflow.yaml": chain("nodes:step")}
    one = write_project({**workflow, "nodes.py": "def step(payload, ctx):\n    return 'one'\n"}, name="one")
    two = write_project({**workflow, "nodes.py": "def step(payload, ctx):\n    return 'two'\n"}, name="two")
    first = Engine.from_config_dir(one)
    second = Engine.from_config_dir(two)
    assert (first.run(None).output, second.run(None).output) == ("one", "two")
    assert Engine.from_config_dir(one).run(None).output == "one"
    assert second.run(None).output == "two"


def test_metadata_holds_the_sha256_of_every_manifest_and_schema(write_project: WriteProject) -> None:
    root = write_project({
        "workflow.yaml": chain(schema_in="request"),
        "agents.yaml": "agents: []\n",
        "schemas/request.json": {"type": "object"},
        "schemas/unused.json": {"type": "string"},
    })
    metadata = Engine.from_config_dir(root).metadata

    def sha(name: str) -> str:
        return hashlib.sha256((root / name).read_bytes()).hexdigest()

    assert dict(metadata["manifests"]) == {"agents": sha("agents.yaml"), "workflow": sha("workflow.yaml")}
    assert dict(metadata["schemas"]) == {"request": sha("schemas/request.json"), "unused": sha("schemas/unused.json")}
    (root / "agents.yaml").write_text("agents: []  # changed\n")
    assert Engine.from_config_dir(root).metadata["manifests"]["agents"] == sha("agents.yaml") != metadata[
        "manifests"]["agents"]


def test_from_dict_metadata_hashes_the_content() -> None:
    schemas = {"request": {"type": "object"}}
    first = Engine.from_dict({"workflow": chain(), "schemas": schemas}).metadata
    again = Engine.from_dict({"workflow": chain(), "schemas": schemas}).metadata
    other = Engine.from_dict({"workflow": chain(name="A"), "schemas": {"request": {"type": "array"}}}).metadata
    assert first["manifests"] == again["manifests"]
    assert first["schemas"] == again["schemas"]
    assert len(first["manifests"]["workflow"]) == 64
    assert other["manifests"]["workflow"] != first["manifests"]["workflow"]
    assert other["schemas"]["request"] != first["schemas"]["request"]


def validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "validate", *args], capture_output=True, text=True, timeout=60, check=False)


def test_cli_validate_accepts_a_valid_project(write_project: WriteProject) -> None:
    root = write_project({"workflow.yaml": chain()})
    done = validate(str(root))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok: 3 nodes, 2 edges, start 'a'"


def test_cli_validate_prints_every_located_issue(write_project: WriteProject) -> None:
    root = write_project({"workflow.yaml": """\
        version: "1.0"
        nodes:
          - {id: a, role: start, schema_in: nope}
          - {id: b, role: linaer}
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """, "agents.yaml": "agents:\n  - {id: x, llm: scripted/x, temperature: 0}\n"})
    done = validate(str(root))
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert lines == [
        f"{root / 'agents.yaml'}:2:30: unknown field 'temperature' at agents.0.temperature "
        "(allowed fields: config, credential, id, llm, prompt)",
        f"{root / 'workflow.yaml'}:3:37: node 'a': schema 'nope' does not exist (add schemas/nope.json)",
        f"{root / 'workflow.yaml'}:4:19: node 'b': nodes.1.role: Input should be 'start', 'linear', 'decision', "
        "'branch', 'split', 'merge' or 'exit' (did you mean 'linear'?)",
    ]
    assert "3 issues found" in done.stderr


def test_cli_validate_prints_structural_issues_and_json(write_project: WriteProject) -> None:
    root = write_project({"workflow.yaml": """\
        version: "1.0"
        nodes:
          - {id: a, role: start, schema_in: nope}
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
          - {from: a, to: q}
        """})
    done = validate(str(root))
    assert done.returncode == 2
    workflow = root / "workflow.yaml"
    assert done.stdout.splitlines() == [
        f"{workflow}:3:37: node 'a': schema 'nope' does not exist (add schemas/nope.json)",
        f"{workflow}:7:19: edge 'a->q': 'to: q' names no node (declare the node under nodes:)",
    ]
    as_json = validate("--json", str(root))
    assert as_json.returncode == 2
    assert '"code": "dag.unknown_node"' in as_json.stdout


def test_cli_validate_of_a_missing_dir_exits_2(tmp_path: Path) -> None:
    done = validate(str(tmp_path / "missing"))
    assert done.returncode == 2
    assert "does not exist" in done.stdout + done.stderr


def test_a_config_dir_without_the_module_does_not_get_another_projects(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "nodes", raising=False)
    workflow = {"workflow.yaml": chain("nodes:step")}
    with_module = write_project({**workflow, "nodes.py": "def step(payload, ctx):\n    return 'one'\n"}, name="one")
    without = write_project(workflow, name="two")
    assert Engine.from_config_dir(with_module).run(None).output == "one"
    with pytest.raises(ManifestError) as info:
        Engine.from_config_dir(without)
    (issue,) = info.value.issues
    assert (issue.code, issue.node_id) == ("dag.handler_import", "work")
    assert "cannot import module 'nodes'" in issue.message


def test_helper_modules_of_two_config_dirs_do_not_mix(
    write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("nodes", "helpers"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    nodes = "from helpers import WORD\n\n\ndef step(payload, ctx):\n    return WORD\n"
    workflow = {"workflow.yaml": chain("nodes:step"), "nodes.py": nodes}
    one = write_project({**workflow, "helpers.py": "WORD = 'one'\n"}, name="one")
    two = write_project({**workflow, "helpers.py": "WORD = 'two'\n"}, name="two")
    first = Engine.from_config_dir(one)
    second = Engine.from_config_dir(two)
    assert (first.run(None).output, second.run(None).output) == ("one", "two")


def test_from_dict_is_detached_from_the_callers_objects() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    workflow = chain(schema_in="request")
    engine = Engine.from_dict({"workflow": workflow, "schemas": {"request": schema}})
    schema["properties"]["n"]["type"] = "string"
    workflow["nodes"][1]["role"] = "exit"
    workflow["edges"].clear()
    assert engine.run({"n": 1}).status == "success"
    assert engine.run({"n": "1"}).status == "failure"
    assert engine.dag.order == ("a", "work", "z")
