"""A load reports every issue it can find, in every manifest, and changes nothing until the project is valid."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine, ManifestError

BASE: dict[str, Any] = {
    "workflow": {
        "version": "1.0",
        "nodes": [{"id": "s", "role": "start"}, {"id": "b", "role": "linear"}, {"id": "c", "role": "linear"},
                  {"id": "d", "role": "linear"}, {"id": "z", "role": "exit"}],
        "edges": [{"from": "s", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "d"},
                  {"from": "d", "to": "z"}],
    },
}


def _node(manifests: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in manifests["workflow"]["nodes"] if n["id"] == node_id)


def _typo(m: dict[str, Any]) -> None:
    _node(m, "b")["handlr"] = "nodes:b"


def _duplicate_id(m: dict[str, Any]) -> None:
    m["workflow"]["nodes"].append({"id": "c", "role": "linear"})


def _unknown_target(m: dict[str, Any]) -> None:
    m["workflow"]["edges"].append({"from": "d", "to": "nowhere"})


def _duplicate_edge(m: dict[str, Any]) -> None:
    m["workflow"]["edges"].append({"from": "s", "to": "b"})


def _unknown_schema(m: dict[str, Any]) -> None:
    _node(m, "s")["schema_in"] = "nope"


def _edge_typo(m: dict[str, Any]) -> None:
    m["workflow"]["edges"][2]["lable"] = "next"


def _memory_backend(m: dict[str, Any]) -> None:
    m["memory"] = {"memory": {"task_store": {"backend": "nope"}}}


def _tool_type(m: dict[str, Any]) -> None:
    m["tools"] = {"tools": [{"id": "t", "type": "no.such_tool"}]}


def _agents_field(m: dict[str, Any]) -> None:
    m["agents"] = {"agents": [{"id": "x", "llm": "scripted/x", "temprature": 0}]}


def _scheduler_field(m: dict[str, Any]) -> None:
    m["scheduler"] = {"scheduler": {"max_concurency": 2}}


DEFECTS = {
    "typo": (_typo, "workflow", "manifest.extra_field"),
    "duplicate_id": (_duplicate_id, "workflow", "dag.duplicate_id"),
    "unknown_target": (_unknown_target, "workflow", "dag.unknown_node"),
    "duplicate_edge": (_duplicate_edge, "workflow", "dag.duplicate_edge"),
    "unknown_schema": (_unknown_schema, "workflow", "dag.unknown_schema"),
    "edge_typo": (_edge_typo, "workflow", "manifest.extra_field"),
    "memory_backend": (_memory_backend, "memory", "memory.unknown_backend"),
    "tool_type": (_tool_type, "tools", "tools.unknown_type"),
    "agents_field": (_agents_field, "agents", "manifest.extra_field"),
    "scheduler_field": (_scheduler_field, "scheduler", "manifest.extra_field"),
}
"""Defects that do not depend on each other: each gives exactly one issue, whatever else is wrong."""


def reported(defects: list[str]) -> list[tuple[str, str]]:
    manifests = copy.deepcopy(BASE)
    for name in defects:
        DEFECTS[name][0](manifests)
    if not defects:
        Engine.from_dict(manifests).close()
        return []
    with pytest.raises(ManifestError) as caught:
        Engine.from_dict(manifests)
    return sorted((issue.file.strip("<>"), issue.code) for issue in caught.value.issues)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(DEFECTS)), unique=True))
def test_independent_defects_are_all_reported_together_and_nothing_else(defects):
    assert reported(defects) == sorted((DEFECTS[d][1], DEFECTS[d][2]) for d in defects)


def test_a_field_error_does_not_hide_a_duplicate_id_and_both_are_located(write_project):
    root = write_project({"workflow.yaml": """\
        version: "1.0"
        nodes:
          - {id: s, role: start}
          - {id: a, role: linear, handlr: "nodes:a"}
          - {id: a, role: linear}
          - {id: z, role: exit}
        edges:
          - {from: s, to: a}
          - {from: a, to: z}
        """})
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(root)
    assert [(i.line, i.node_id, i.code) for i in caught.value.issues] == [
        (4, "a", "manifest.extra_field"), (5, "a", "dag.duplicate_id")]


def test_a_workflow_that_does_not_parse_does_not_hide_the_other_manifests_issues(write_project):
    root = write_project({"workflow.yaml": "version: '1.0'\nnodes: [\n",
                          "tools.yaml": "tools:\n  - {id: t, type: no.such_tool}\n"})
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(root)
    assert sorted(Path(i.file).name for i in caught.value.issues) == ["tools.yaml", "workflow.yaml"]


def test_references_into_a_manifest_that_failed_are_not_echoed_as_unknown(write_project):
    """tools.yaml fails on its own field: the node's and the policy's reference to its tool are not blamed."""
    root = write_project({
        "workflow.yaml": """\
            version: "1.0"
            nodes:
              - {id: s, role: start, tools: [t]}
              - {id: z, role: exit}
            edges:
              - {from: s, to: z}
            """,
        "tools.yaml": "tools:\n  - {id: t, type: kit.add, rooot: .}\n",
        "policy.yaml": "policies:\n  - {name: p, rules: [{target: tool, target_id: t, action: deny}]}\n",
    })
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(root)
    assert [(Path(i.file).name, i.code) for i in caught.value.issues] == [("tools.yaml", "manifest.extra_field")]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root``: a file's bytes, ``None`` for a directory."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


WORKFLOW = """\
version: "1.0"
nodes:
  - {id: s, role: start}
  - {id: z, role: exit}
edges:
  - {from: s, to: z}
"""

ELSEWHERE = {
    "workflow typo": {"workflow.yaml": WORKFLOW.replace("role: exit", "role: exit, handlr: x")},
    "unknown tool type": {"tools.yaml": "tools:\n  - {id: t, type: no.such_tool}\n"},
    "bad scheduler": {"scheduler.yaml": "scheduler: {executor: nowhere}\n"},
    "unknown context profile": {"workflow.yaml": WORKFLOW.replace("role: exit", "role: exit, context: nope")},
}


IN_MEMORY_YAML = {
    "an uninstalled backend": {"backend": "nope"},  # the task and project stores' backends come first
    "a field error": {"backend": "sqlite", "retention": {"max_items": 0}},
}


@pytest.mark.parametrize("backend", ["sqlite", "jsonl", "file"])
@pytest.mark.parametrize("defect", [*ELSEWHERE, *IN_MEMORY_YAML])
def test_a_refused_load_leaves_the_project_dir_byte_for_byte_unchanged(write_project, backend, defect):
    distribution = "agent_engine_memory_sqlite" if backend == "sqlite" else "agent_engine_memory_jsonl"
    pytest.importorskip(distribution, reason=f"the {backend} backend is {distribution}'s")
    stores = {"task_store": {"backend": backend}, "project_store": {"backend": backend},
              "global_store": IN_MEMORY_YAML.get(defect, {"backend": backend})}
    files = {"workflow.yaml": WORKFLOW, "memory.yaml": yaml.safe_dump({"memory": stores}),
             **ELSEWHERE.get(defect, {})}
    root = write_project(files)
    before = snapshot(root)
    with pytest.raises(ManifestError):
        Engine.from_config_dir(root)
    assert snapshot(root) == before
    if defect not in IN_MEMORY_YAML:  # the same memory.yaml in a valid project does open its stores
        write_project({"workflow.yaml": WORKFLOW}, name="project")
        for name in ELSEWHERE.get(defect, {}):
            if name != "workflow.yaml":
                (root / name).unlink()
        Engine.from_config_dir(root).close()
        assert (root / ".agent_engine" / "memory").is_dir()
