"""Any manifest either loads or raises ``ManifestError`` — never any other exception.

Hypothesis starts from valid workflows (the generator of ``test_dag_properties``) and mutates them: fields
dropped, duplicated, renamed or given values of the wrong type, edges added (cycles included) and removed,
random roles, kinds, ids and references, whole manifests replaced by random JSON. The result goes through
``Engine.from_dict`` and, dumped as YAML/JSON files, through ``Engine.from_config_dir``; random text and bytes
are loaded as manifest files too. A load that fails must explain itself: every issue has a code and a file,
and for a config dir its line lies inside that file.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dag_properties import HANDLERS, workflows

from agent_engine_core import Engine
from agent_engine_core.errors import ManifestError, ManifestIssue

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ROLES = ["start", "linear", "decision", "branch", "split", "merge", "exit"]
FIELDS = [
    "id", "name", "kind", "role", "default_start", "handler", "agent_id", "schema_in", "schema_out", "context",
    "tools", "continue_on_failure", "memory_write", "always_fail", "merge", "from", "to", "label", "version",
    "nodes", "edges", "description", "agents", "llm", "prompt", "config", "credential",
]
# handler references are drawn from this list only: a random "module:function" would import random modules
HANDLER_REFS = ["pick", "nodes:step", "no_such_module_xyz:f", "json:dumps", "os.path:join", "json:JSONDecoder",
                ":", "a:", ":b", "string:ascii_letters", "json:nope"]
SCHEMAS = {"obj": {"type": "object"}, "num": {"type": "number", "minimum": 0}}

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
words = st.text(max_size=12) | st.sampled_from(["a", "start0", "exit1", "bot", "obj", "none", "global", "x y"])


def line_count(data: bytes) -> int:
    """Lines of a manifest file as YAML counts them (it also breaks lines at \\r, NEL, LS and PS)."""
    text = data.decode("utf-8", errors="replace")
    return 1 + len(re.findall("\r\n|[\r\n\x85\u2028\u2029]", text))


def _dicts(manifests: dict[str, Any]) -> list[dict[str, Any]]:
    """Every mapping a mutation may change: the manifests, nodes, edges, agents, their nested settings."""
    found: list[dict[str, Any]] = []
    stack: list[Any] = [manifests]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            found.append(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def _items(manifests: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes and edges of the workflow (the mappings most mutations aim at)."""
    workflow = manifests.get("workflow")
    if not isinstance(workflow, dict):
        return []
    found = []
    for key in ("nodes", "edges"):
        if isinstance(workflow.get(key), list):
            found.extend(item for item in workflow[key] if isinstance(item, dict))
    return found


def _lists(manifests: dict[str, Any]) -> list[list[Any]]:
    return [v for d in _dicts(manifests) for v in d.values() if isinstance(v, list) and v]


def _node_ids(manifests: dict[str, Any]) -> list[str]:
    nodes = manifests.get("workflow", {}).get("nodes") if isinstance(manifests.get("workflow"), dict) else None
    if not isinstance(nodes, list):  # an earlier mutation may have replaced the list by another value
        return []
    return [n["id"] for n in nodes if isinstance(n, dict) and isinstance(n.get("id"), str)]


def _mutate(draw: st.DrawFn, manifests: dict[str, Any]) -> None:  # noqa: C901, PLR0912 - one branch per mutation
    # structural mutations weigh more: a manifest that fails field validation never reaches the DAG checks
    op = draw(st.sampled_from([
        "drop", "rename", "wrong_type", "duplicate", "remove_item", "replace_manifest", "unknown_manifest",
        *["add_edge", "back_edge", "remove_edge", "role", "kind", "handler", "schema_ref", "string"] * 3,
    ]))
    items = _items(manifests)
    target = draw(st.sampled_from(items) if items and draw(st.integers(0, 4)) else st.sampled_from(_dicts(manifests)))
    keys = sorted(target, key=str)
    ids = _node_ids(manifests)
    edges = manifests["workflow"].get("edges") if isinstance(manifests.get("workflow"), dict) else None
    if op == "drop" and keys:
        del target[draw(st.sampled_from(keys))]
    elif op == "rename" and keys:
        key = draw(st.sampled_from(keys))
        new = draw(st.sampled_from([str(key)[:-1], f"{key}s", str(key)[::-1], str(key).upper()]) | st.text(max_size=8))
        target[new] = target.pop(key)
    elif op == "wrong_type":
        target[draw(st.sampled_from(keys) if keys else st.sampled_from(FIELDS))] = draw(json_values)
    elif op == "duplicate" and _lists(manifests):
        items = draw(st.sampled_from(_lists(manifests)))
        items.append(copy.deepcopy(draw(st.sampled_from(items))))
    elif op == "remove_item" and _lists(manifests):
        items = draw(st.sampled_from(_lists(manifests)))
        del items[draw(st.integers(0, len(items) - 1))]
    elif op == "add_edge" and ids and isinstance(edges, list):
        edge: dict[str, Any] = {"from": draw(st.sampled_from(ids) | words), "to": draw(st.sampled_from(ids) | words)}
        if draw(st.booleans()):
            edge["label"] = draw(words)
        edges.append(edge)
    elif op == "back_edge" and len(ids) > 1 and isinstance(edges, list):
        # generated ids end in their creation index, and generated edges go from lower to higher: a cycle
        late, early = sorted(draw(st.lists(st.sampled_from(ids), min_size=2, max_size=2, unique=True)),
                             key=lambda i: int("0" + "".join(c for c in i if c.isdigit())), reverse=True)
        edges.append({"from": late, "to": early, "label": draw(words)})
    elif op == "remove_edge" and edges:
        del edges[draw(st.integers(0, len(edges) - 1))]
    elif op == "role":
        target["role"] = draw(st.sampled_from(ROLES) | words)
    elif op == "kind":
        target["kind"] = draw(st.sampled_from(["agent", "deterministic"]) | words)
        if draw(st.booleans()):
            target["agent_id"] = draw(st.sampled_from(["bot", "tob"]) | words)
    elif op == "string":
        target[draw(st.sampled_from([f for f in FIELDS if f != "handler"]))] = draw(words)
    elif op == "handler":
        target["handler"] = draw(st.sampled_from(HANDLER_REFS))
    elif op == "schema_ref":
        field = draw(st.sampled_from(["schema_in", "schema_out"]))
        target[field] = draw(st.sampled_from([*SCHEMAS, "missing"]) | words | st.dictionaries(
            st.sampled_from(["type", "$schema", "enum", "properties", "minimum", "$ref"]), json_values, max_size=3))
    elif op == "replace_manifest":
        stem = draw(st.sampled_from(["workflow", "agents", "schemas", "scheduler"]))
        manifests[stem] = draw(json_values)
    elif op == "unknown_manifest":
        manifests[draw(st.sampled_from(["agent", "tools", "memory", "policy"]) | st.text(max_size=10))] = draw(
            json_values)


@st.composite
def mutated_projects(draw: st.DrawFn) -> dict[str, Any]:
    """Manifests (stem -> content, plus "schemas") made from a valid project by one to four mutations."""
    workflow = draw(workflows())
    manifests: dict[str, Any] = {"workflow": workflow}
    if draw(st.booleans()):
        bot = [n for n in workflow["nodes"] if n["role"] == "linear"][:2]
        for node in bot:
            node["kind"] = "agent"
            node["agent_id"] = "bot"
        responses = {node["id"]: {"ok": True} for node in bot}
        manifests["agents"] = {"agents": [{"id": "bot", "llm": "scripted/bot", "config": {"responses": responses}}]}
    if draw(st.booleans()):
        manifests["schemas"] = copy.deepcopy(SCHEMAS)
    if draw(st.booleans()):
        manifests["scheduler"] = {"scheduler": {"max_concurrency": 1, "fanout_concurrency": 4}}
    for _ in range(draw(st.integers(1, 4))):
        _mutate(draw, manifests)
    return manifests


def check_outcome(load: Any, lines: dict[str, int] | None = None) -> Engine | None:
    """Run ``load``: it returns an engine, or raises ``ManifestError`` whose issues are located."""
    try:
        engine = load()
    except ManifestError as exc:
        assert exc.issues, "a ManifestError must carry at least one issue"
        for issue in exc.issues:
            assert isinstance(issue, ManifestIssue)
            assert issue.code
            assert issue.file
            assert str(issue).startswith(issue.file)
            if lines is not None and issue.line is not None and issue.file in lines:
                assert 1 <= issue.line <= lines[issue.file], issue
        return None
    assert isinstance(engine, Engine)
    assert len(engine.dag.order) == len(engine.dag.nodes)
    return engine


@FUZZ
@given(mutated_projects())
def test_mutated_manifests_from_dict(manifests: dict[str, Any]) -> None:
    engine = check_outcome(lambda: Engine.from_dict(manifests, handlers=HANDLERS))
    if engine is not None:
        assert set(engine.dag.order) == set(_node_ids(manifests))


def _write_config_dir(root: Path, manifests: dict[str, Any]) -> dict[str, int]:
    """Dump ``manifests`` as files under ``root``; returns each file's number of lines."""
    lines = {}
    for stem, content in manifests.items():
        if stem == "schemas" and isinstance(content, dict):
            (root / "schemas").mkdir(exist_ok=True)
            for name, schema in content.items():
                if not name or "/" in name or "\x00" in name or name in (".", ".."):
                    continue
                path = root / "schemas" / f"{name}.json"
                path.write_text(json.dumps(schema), encoding="utf-8")
                lines[str(path)] = line_count(path.read_bytes())
            continue
        if not isinstance(stem, str) or not stem or "/" in stem or "\x00" in stem or stem.startswith("."):
            continue
        path = root / f"{stem}.yaml"
        text = yaml.safe_dump(content, sort_keys=False, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        lines[str(path)] = line_count(path.read_bytes())
    return lines


@FUZZ
@given(mutated_projects())
def test_mutated_manifests_from_config_dir(manifests: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lines = _write_config_dir(root, manifests)
        engine = check_outcome(lambda: Engine.from_config_dir(root), lines)
    if engine is not None:
        assert set(engine.dag.order) == set(_node_ids(manifests))


FILE_NAMES = ["workflow.yaml", "agents.yaml", "scheduler.yaml", "agent.yaml", "workflow.yml", "schemas/obj.json",
              "tools.yaml"]


@FUZZ
@given(st.dictionaries(
    st.sampled_from(FILE_NAMES),
    st.text(max_size=200) | st.binary(max_size=200) | st.sampled_from([
        'version: "1.0"\nnodes: [{id: a, role: start}, {id: z, role: exit}]\nedges: [{from: a, to: z}]\n',
        "nodes: &n [*n]\n", "a: !!python/object:os.system x\n", "{", "- - -\n", "a: 1\na: 2\n", "\ufeffversion: 1\n",
    ]),
    min_size=1,
))
def test_random_text_as_manifest_files(files: dict[str, str | bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "schemas").mkdir()
        lines = {}
        for name, content in files.items():
            data = content.encode("utf-8", errors="surrogatepass") if isinstance(content, str) else content
            (root / name).write_bytes(data)
            lines[str(root / name)] = line_count(data)
        engine = check_outcome(lambda: Engine.from_config_dir(root), lines)
    if engine is not None:
        assert engine.dag.order == ("a", "z")
