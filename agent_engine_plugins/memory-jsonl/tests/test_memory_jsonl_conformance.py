"""The jsonl backend keeps the memory contract, lays its files out as documented, and is found by engines."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json

from agent_engine_core.codec import dumps
from agent_engine_core.memory import Artifact, MemoryItem, MemorySetup
from agent_engine_core.testing import check_engines_share_memory, check_memory_backend

from agent_engine_memory_jsonl import build_backend, plugin


def test_the_backend_keeps_the_memory_contract(tmp_path):
    check_memory_backend(build_backend, tmp_path, persistent=True)


def test_the_contract_holds_in_a_configured_folder_without_a_config_dir(tmp_path):
    folder = tmp_path / "elsewhere"

    def build(setup):
        return build_backend(dataclasses.replace(setup, project_dir=None, config={"path": str(folder)}))

    check_memory_backend(build, tmp_path / "unused", persistent=True)
    assert not (tmp_path / "unused").exists()
    assert sorted(path.name for path in folder.iterdir() if not path.name.startswith(".")) == [
        "artifacts.jsonl", "global_store.jsonl", "project_store.jsonl", "task_store.jsonl"]


def test_a_line_holds_the_documented_fields_with_json_values(tmp_path):
    backend = build_backend(MemorySetup("project", "p1", tmp_path))
    backend.append(MemoryItem("i1", "project", "p1", dumps({"é": [1, 2.5]}), 7.0, "t1", ("a", "b"), dumps({"m": 1})))
    backend.put_artifact(Artifact("a1", "node_output", "p1", "t1", dumps("out"), 8.0, "draft", "title"))
    backend.close()
    folder = tmp_path / ".agent_engine" / "memory"
    item_line = (folder / "project_store.jsonl").read_text(encoding="utf-8")
    assert item_line == ('{"id":"i1","task_id":"t1","project_id":"p1","store":"project","payload":{"é":[1,2.5]},'
                         '"created_at":7.0,"tags":["a","b"],"metadata":{"m":1}}\n')
    artifact = json.loads((folder / "artifacts.jsonl").read_text())
    assert list(artifact) == ["id", "kind", "project_id", "task_id", "node_id", "schema", "payload", "created_at",
                              "metadata"]
    assert artifact["payload"] == "out"


def test_json_texts_come_back_in_the_cores_compact_form(tmp_path):
    backend = build_backend(MemorySetup("task", "p1", tmp_path))
    backend.append(MemoryItem("i1", "task", "p1", '{"a": 1,  "b": [1.50, "\\u00e9"]}', 1.0))
    fresh = backend.query()[0]
    backend.close()
    reopened = build_backend(MemorySetup("task", "p1", tmp_path))
    assert reopened.query() == [fresh], "what a query gives before a restart, it gives after"
    assert fresh.payload_json == '{"a":1,"b":[1.5,"é"]}'
    reopened.close()


def test_the_distribution_registers_the_backend_through_its_entry_point():
    points = importlib.metadata.entry_points(group="agent_engine")
    assert [p.value for p in points if p.name == "memory-jsonl"] == ["agent_engine_memory_jsonl.plugin"]
    registered = []
    plugin.register_memory_backends(lambda name, factory: registered.append((name, factory)))
    assert registered == [("jsonl", build_backend), ("file", build_backend)]


def test_memory_yaml_selects_it_and_the_next_engine_reads_what_the_last_wrote(tmp_path):
    check_engines_share_memory(tmp_path, "jsonl", config={"path": "state"})
    assert (tmp_path / "state" / "project_store.jsonl").is_file()
