"""Every structural rule of SPEC §3.1 and every manifest-level check, as a located ``ManifestIssue``.

Each test writes a real config dir, so the lines are those of the text below: a ``#!`` comment marks the line
an issue must point at. Tests assert the rule's code, the file, the exact line, the node or edge blamed, that a
hint says what to do, and the whole set of codes reported (so that no rule fires where it should not).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from agent_engine_core import Engine
from agent_engine_core.errors import ManifestError, ManifestIssue
from agent_engine_core.manifests import KNOWN_MANIFESTS, MANIFEST_MODELS

WriteProject = Callable[..., Path]

NODES_PY = """\
CONSTANT = 42


def normalize(payload, ctx):
    return payload


def route(payload, ctx):
    return "yes"


def one_arg(payload):
    return payload
"""

AGENTS_YAML = """\
agents:
  - id: editor
    llm: scripted/editor
    config:
      responses: {a: {}, work: {}, d: {selected_edge: "yes"}, z: {}}
"""


def line_of(text: str, marker: str = "#!") -> int:
    """1-based line of the only line of ``text`` that carries ``marker``."""
    lines = [n for n, line in enumerate(textwrap.dedent(text).splitlines(), start=1) if marker in line]
    assert len(lines) == 1, f"marker {marker!r} must be on exactly one line"
    return lines[0]


def load_issues(root: Path) -> tuple[ManifestIssue, ...]:
    """The issues of loading ``root``, which must fail."""
    with pytest.raises(ManifestError) as info:
        Engine.from_config_dir(root)
    return info.value.issues


def the(issues: tuple[ManifestIssue, ...], code: str, **match: str) -> ManifestIssue:
    """The only issue with ``code`` (and the given attribute values)."""
    found = [i for i in issues if i.code == code and all(getattr(i, k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one {code} {match or ''} issue, got: {[str(i) for i in issues]}"
    return found[0]


def project(write_project: WriteProject, workflow: str, **files: str) -> Path:
    """A config dir with ``workflow``, the shared nodes.py and agents.yaml, and ``files``."""
    return write_project({"workflow.yaml": workflow, "nodes.py": NODES_PY, "agents.yaml": AGENTS_YAML, **files})


def test_a_valid_project_loads(write_project: WriteProject) -> None:
    root = project(write_project, """\
        version: "1.0"
        nodes:
          - {id: a, role: start, handler: "nodes:normalize"}
          - {id: d, role: decision, handler: "nodes:route"}
          - {id: work, kind: agent, role: linear, agent_id: editor}
          - {id: z, role: exit}
          - {id: z2, role: exit}
        edges:
          - {from: a, to: d}
          - {from: d, to: work, label: "yes"}
          - {from: d, to: z2, label: "no"}
          - {from: work, to: z}
        """)
    engine = Engine.from_config_dir(root)
    assert engine.dag.default_start == "a"
    assert set(engine.dag.order) == {"a", "d", "work", "z", "z2"}


class Rule(NamedTuple):
    """A workflow breaking one rule: the issue expected at its ``#!`` line, and every code the load reports."""

    workflow: str
    code: str
    node_id: str | None
    edge_id: str | None
    codes: set[str]


STRUCTURE = [
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: m, role: merge}
          - id: b  #!
            role: linear
          - {id: d, role: decision, handler: "nodes:route"}
          - {id: c, role: linear}
          - {id: a9, role: exit}  # an exit below the cycle, sorting before every node of it
        edges:
          - {from: a, to: m}
          - {from: m, to: b}
          - {from: b, to: d}
          - {from: d, to: c, label: again}
          - {from: d, to: a9, label: done}
          - {from: c, to: m}
        """,
        "dag.cycle", "b", None, {"dag.cycle"}
    ), id="cycle"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: z, role: exit}
          - id: orphan  #!
            role: linear
        edges:
          - {from: a, to: z}
          - {from: orphan, to: z}
        """,
        "dag.unreachable", "orphan", None, {"dag.unreachable", "dag.degree"}
    ), id="unreachable"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start, default_start: true}
          - {id: z, role: exit}
          - id: b  #!
            role: start
          - {id: loose, role: linear}
        edges:
          - {from: a, to: z}
          - {from: b, to: loose}
        """,
        "dag.dead_end", "b", None, {"dag.dead_end", "dag.degree"}
    ), id="start-reaches-no-exit"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start, default_start: true}
          - id: b
            role: start  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: b}
          - {from: b, to: z}
        """,
        "dag.degree", "b", None, {"dag.degree"}
    ), id="start-with-in-edge"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - id: a
            role: start  #!
          - {id: z1, role: exit}
          - {id: z2, role: exit}
        edges:
          - {from: a, to: z1}
          - {from: a, to: z2}
        """,
        "dag.degree", "a", None, {"dag.degree"}
    ), id="start-with-two-out-edges"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - id: a
            kind: agent  #!
            role: start
            agent_id: editor
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """,
        "dag.role_kind", "a", None, {"dag.role_kind"}
    ), id="start-is-an-agent"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: z
            role: exit  #!
          - {id: y, role: exit}
        edges:
          - {from: a, to: z}
          - {from: z, to: y}
        """,
        "dag.degree", "z", None, {"dag.degree"}
    ), id="exit-with-out-edge"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: z, role: exit}
          - id: z2
            role: exit  #!
        edges:
          - {from: a, to: z}
        """,
        "dag.degree", "z2", None, {"dag.degree", "dag.unreachable"}
    ), id="exit-without-in-edge"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: z
            kind: agent  #!
            role: exit
            agent_id: editor
        edges:
          - {from: a, to: z}
        """,
        "dag.role_kind", "z", None, {"dag.role_kind"}
    ), id="exit-is-an-agent"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: z
            role: exit
            tools: [read_file]  #!
        edges:
          - {from: a, to: z}
        """,
        "dag.role_field", "z", None, {"dag.role_field", "dag.unknown_tool"}
    ), id="exit-with-tools"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: b
            role: linear  #!
          - {id: z1, role: exit}
          - {id: z2, role: exit}
        edges:
          - {from: a, to: b}
          - {from: b, to: z1}
          - {from: b, to: z2}
        """,
        "dag.degree", "b", None, {"dag.degree"}
    ), id="linear-with-two-out-edges"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: fan, role: branch}
          - {id: x, role: linear}
          - {id: y, role: linear}
          - id: join
            role: linear  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: fan}
          - {from: fan, to: x}
          - {from: fan, to: y}
          - {from: x, to: join}
          - {from: y, to: join}
          - {from: join, to: z}
        """,
        "dag.degree", "join", None, {"dag.degree"}
    ), id="linear-with-two-in-edges"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: d
            role: decision  #!
            handler: "nodes:route"
          - {id: z, role: exit}
        edges:
          - {from: a, to: d}
          - {from: d, to: z, label: "yes"}
        """,
        "dag.degree", "d", None, {"dag.degree"}
    ), id="decision-with-one-out-edge"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: fan, role: branch}
          - {id: x, role: linear}
          - {id: y, role: linear}
          - id: d
            role: decision  #!
            handler: "nodes:route"
          - {id: z1, role: exit}
          - {id: z2, role: exit}
        edges:
          - {from: a, to: fan}
          - {from: fan, to: x}
          - {from: fan, to: y}
          - {from: x, to: d}
          - {from: y, to: d}
          - {from: d, to: z1, label: "yes"}
          - {from: d, to: z2, label: "no"}
        """,
        "dag.degree", "d", None, {"dag.degree"}
    ), id="decision-with-two-in-edges"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: d, role: decision, handler: "nodes:route"}
          - {id: z1, role: exit}
          - {id: z2, role: exit}
        edges:
          - {from: a, to: d}
          - {from: d, to: z1, label: "yes"}
          - {from: d, to: z2}  #!
        """,
        "dag.decision_label", "d", "d->z2", {"dag.decision_label"}
    ), id="decision-edge-without-label"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: d, role: decision, handler: "nodes:route"}
          - {id: z1, role: exit}
          - {id: z2, role: exit}
        edges:
          - {from: a, to: d}
          - {from: d, to: z1, label: "yes"}
          - from: d
            to: z2
            label: "yes"  #!
        """,
        "dag.decision_label", "d", "d->z2", {"dag.decision_label"}
    ), id="decision-labels-not-unique"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: d
            role: decision  #!
          - {id: z1, role: exit}
          - {id: z2, role: exit}
        edges:
          - {from: a, to: d}
          - {from: d, to: z1, label: "yes"}
          - {from: d, to: z2, label: "no"}
        """,
        "dag.decision_handler", "d", None, {"dag.decision_handler"}
    ), id="deterministic-decision-without-handler"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: fan
            role: branch  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: fan}
          - {from: fan, to: z}
        """,
        "dag.degree", "fan", None, {"dag.degree"}
    ), id="branch-with-one-out-edge"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: fan, role: branch}
          - {id: x, role: linear}
          - {id: y, role: linear}
          - id: b2
            role: branch  #!
          - {id: z1, role: exit}
          - {id: z2, role: exit}
        edges:
          - {from: a, to: fan}
          - {from: fan, to: x}
          - {from: fan, to: y}
          - {from: x, to: b2}
          - {from: y, to: b2}
          - {from: b2, to: z1}
          - {from: b2, to: z2}
        """,
        "dag.degree", "b2", None, {"dag.degree"}
    ), id="branch-with-two-in-edges"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: fan, role: branch}
          - id: s
            role: split  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: fan}
          - {from: fan, to: s}
          - {from: fan, to: z}
        """,
        "dag.degree", "s", None, {"dag.degree"}
    ), id="split-without-out-edge"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: fan, role: branch}
          - {id: x, role: linear}
          - {id: y, role: linear}
          - id: s
            role: split  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: fan}
          - {from: fan, to: x}
          - {from: fan, to: y}
          - {from: x, to: s}
          - {from: y, to: s}
          - {from: s, to: z}
        """,
        "dag.degree", "s", None, {"dag.degree"}
    ), id="split-with-two-in-edges"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: m
            role: merge  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: m}
          - {from: m, to: z}
        """,
        "dag.degree", "m", None, {"dag.degree"}
    ), id="merge-with-one-in-edge-and-no-split"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: fan, role: branch}
          - {id: x, role: linear}
          - id: m
            role: merge  #!
          - {id: z1, role: exit}
          - {id: z2, role: exit}
        edges:
          - {from: a, to: fan}
          - {from: fan, to: m}
          - {from: fan, to: x}
          - {from: x, to: m}
          - {from: m, to: z1}
          - {from: m, to: z2}
        """,
        "dag.degree", "m", None, {"dag.degree"}
    ), id="merge-with-two-out-edges"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: b, role: linear}
          - {id: z, role: exit}
          - id: b  #!
            role: exit
        edges:
          - {from: a, to: b}
          - {from: b, to: z}
        """,
        "dag.duplicate_id", "b", None, {"dag.duplicate_id"}
    ), id="duplicate-node-id"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
          - {from: a, to: z}  #!
        """,
        "dag.duplicate_edge", None, "a->z", {"dag.duplicate_edge"}
    ), id="duplicate-edge"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start, default_start: true}
          - {id: b, role: start}
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
          - from: bb  #!
            to: z
        """,
        "dag.unknown_node", None, "bb->z", {"dag.unknown_node", "dag.degree", "dag.dead_end"}
    ), id="unknown-from"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: z, role: exit}
        edges:
          - from: a
            to: zz  #!
        """,
        "dag.unknown_node", None, "a->zz",
        {"dag.unknown_node", "dag.degree", "dag.unreachable", "dag.dead_end"}
    ), id="unknown-to"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: work
            kind: agent
            role: linear
            agent_id: edtior  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: work}
          - {from: work, to: z}
        """,
        "dag.unknown_agent", "work", None, {"dag.unknown_agent"}
    ), id="unknown-agent"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: work
            kind: agent  #!
            role: linear
          - {id: z, role: exit}
        edges:
          - {from: a, to: work}
          - {from: work, to: z}
        """,
        "dag.agent_missing", "work", None, {"dag.agent_missing"}
    ), id="agent-without-agent-id"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: work
            kind: agent
            role: linear
            agent_id: editor
            handler: "nodes:normalize"  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: work}
          - {from: work, to: z}
        """,
        "dag.kind_field", "work", None, {"dag.kind_field"}
    ), id="agent-with-handler"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: work
            role: linear
            agent_id: editor  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: work}
          - {from: work, to: z}
        """,
        "dag.kind_field", "work", None, {"dag.kind_field"}
    ), id="deterministic-with-agent-id"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - id: a
            role: start
            schema_in: requst  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """,
        "dag.unknown_schema", "a", None, {"dag.unknown_schema"}
    ), id="unknown-schema"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: work
            role: linear
            context: editor_ctx  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: work}
          - {from: work, to: z}
        """,
        "dag.unknown_context", "work", None, {"dag.unknown_context"}
    ), id="unknown-context-profile"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: work
            role: linear
            tools:
              - read_file  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: work}
          - {from: work, to: z}
        """,
        "dag.unknown_tool", "work", None, {"dag.unknown_tool"}
    ), id="unknown-tool"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - id: a  #!
            role: linear
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """,
        "dag.no_start", "a", None, {"dag.no_start", "dag.degree", "dag.unreachable"}
    ), id="no-start-node"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: b, role: start}
          - id: c
            role: start
            default_start: false  #!
          - {id: z, role: merge}
          - {id: y, role: exit}
        edges:
          - {from: a, to: z}
          - {from: b, to: z}
          - {from: c, to: z}
          - {from: z, to: y}
        """,
        "dag.default_start", "c", None, {"dag.default_start"}
    ), id="several-starts-without-default"),
    pytest.param(Rule(
        """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - id: work
            role: linear
            default_start: true  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: work}
          - {from: work, to: z}
        """,
        "dag.role_field", "work", None, {"dag.role_field"}
    ), id="default-start-on-a-non-start"),
]


@pytest.mark.parametrize("rule", STRUCTURE)
def test_structural_rule(write_project: WriteProject, rule: Rule) -> None:
    issues = load_issues(project(write_project, rule.workflow))
    issue = the(issues, rule.code, line=line_of(rule.workflow))
    assert issue.file is not None
    assert issue.file.endswith("workflow.yaml")
    assert issue.node_id == rule.node_id
    assert issue.edge_id == rule.edge_id
    assert issue.hint
    assert {i.code for i in issues} == rule.codes


def structure(case_id: str) -> Rule:
    rule: Rule = next(p.values[0] for p in STRUCTURE if p.id == case_id)
    return rule


def test_a_cycle_is_named_node_by_node(write_project: WriteProject) -> None:
    issue = the(load_issues(project(write_project, structure("cycle").workflow)), "dag.cycle")
    assert "b -> d -> c -> m -> b" in issue.message


def test_every_start_without_default_is_blamed(write_project: WriteProject) -> None:
    issues = load_issues(project(write_project, structure("several-starts-without-default").workflow))
    assert sorted(i.node_id or "" for i in issues if i.code == "dag.default_start") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("reference", "hint"),
    [
        pytest.param("nodez:normalize", "nodez.py", id="missing-module"),
        pytest.param("nodes:normalise", "did you mean 'normalize'?", id="missing-function"),
        pytest.param("nodes:CONSTANT", "function", id="not-callable"),
        pytest.param("nodes:one_arg", "def handler(payload, ctx)", id="wrong-signature"),
        pytest.param("nodes.normalize", "module:function", id="not-module-colon-function"),
        pytest.param("broken:normalize", "broken.py", id="module-raises-on-import"),
    ],
)
def test_handler_must_import_and_accept_payload_and_ctx(write_project: WriteProject, reference: str, hint: str) -> None:
    workflow = f"""\
        version: "1.0"
        nodes:
          - id: a
            role: start
            handler: "{reference}"  #!
          - {{id: z, role: exit}}
        edges:
          - {{from: a, to: z}}
        """
    root = project(write_project, workflow, **{"broken.py": "raise RuntimeError('boom at import')\n"})
    issues = load_issues(root)
    issue = the(issues, "dag.handler_import")
    assert (issue.line, issue.node_id) == (line_of(workflow), "a")
    assert issue.file is not None
    assert issue.file.endswith("workflow.yaml")
    assert issue.hint is not None
    assert hint in issue.hint
    assert len(issues) == 1


def test_a_split_lets_a_merge_take_a_single_edge(write_project: WriteProject) -> None:
    root = project(write_project, """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: s, role: split}
          - {id: work, role: linear}
          - {id: m, role: merge}
          - {id: z, role: exit}
        edges:
          - {from: a, to: s}
          - {from: s, to: work}
          - {from: work, to: m}
          - {from: m, to: z}
        """)
    dag = Engine.from_config_dir(root).dag
    assert dag.order == ("a", "s", "work", "m", "z")
    assert dag.nodes["m"].in_degree == 1


def test_did_you_mean_for_unknown_nodes_and_agents(write_project: WriteProject) -> None:
    issues = load_issues(project(write_project, """\
        version: "1.0"
        nodes:
          - {id: start, role: start}
          - {id: work, kind: agent, role: linear, agent_id: edtior}
          - {id: finish, role: exit}
        edges:
          - {from: start, to: work}
          - {from: work, to: finsh}
        """))
    assert the(issues, "dag.unknown_node").hint == "did you mean 'finish'?"
    assert the(issues, "dag.unknown_agent").hint == "did you mean 'editor'?"


def test_several_problems_are_all_reported_together(write_project: WriteProject) -> None:
    workflow = """\
        version: "1.0"
        nodes:
          - {id: a, role: start, schema_in: missing}  #!schema
          - {id: d, role: decision, handler: "nodes:nope"}  #!handler
          - {id: z1, role: exit}
          - {id: z1, role: exit}  #!duplicate
          - {id: z2, role: exit}
        edges:
          - {from: a, to: d}
          - {from: d, to: z1}  #!label
          - {from: d, to: z2, label: "no"}
          - {from: z2, to: nowhere}  #!edge
        """
    issues = load_issues(project(write_project, workflow))
    located = {(i.code, i.line) for i in issues}
    assert located >= {
        ("dag.unknown_schema", line_of(workflow, "#!schema")),
        ("dag.handler_import", line_of(workflow, "#!handler")),
        ("dag.duplicate_id", line_of(workflow, "#!duplicate")),
        ("dag.decision_label", line_of(workflow, "#!label")),
        ("dag.unknown_node", line_of(workflow, "#!edge")),
    }
    assert all(i.file and i.file.endswith("workflow.yaml") for i in issues)


def test_field_errors_of_every_node_and_file_are_reported_together(write_project: WriteProject) -> None:
    workflow = """\
        version: "1.0"
        nodes:
          - id: a
            rloe: start  #!unknown
          - id: b
            role: linaer  #!literal
          - id: z
            role: exit
            continue_on_failure: "yes"  #!strict
        edges:
          - {from: a, to: b}
          - {from: b, to: z}
        """
    agents = """\
        agents:
          - id: editor
            llm: scripted/editor
            promt: "You edit."  #!agents
        """
    issues = load_issues(project(write_project, workflow, **{"agents.yaml": agents}))
    unknown = the(issues, "manifest.extra_field", node_id="a")
    assert (unknown.line, unknown.column, unknown.hint) == (line_of(workflow, "#!unknown"), 5, "did you mean 'role'?")
    assert the(issues, "manifest.missing_field", node_id="a").message.startswith("nodes.0.role")
    literal = the(issues, "manifest.invalid", node_id="b")
    assert (literal.line, literal.hint) == (line_of(workflow, "#!literal"), "did you mean 'linear'?")
    strict = the(issues, "manifest.invalid", node_id="z")
    assert strict.line == line_of(workflow, "#!strict")
    assert "continue_on_failure" in strict.message
    in_agents = the(issues, "manifest.extra_field", node_id=None)
    assert in_agents.file is not None
    assert in_agents.file.endswith("agents.yaml")
    assert (in_agents.line, in_agents.hint) == (line_of(agents, "#!agents"), "did you mean 'prompt'?")
    assert all(i.file and i.file.endswith("workflow.yaml") for i in issues if i is not in_agents)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("continue_on_failure", '"yes"'),
        ("default_start", "1"),
        ("tools", "read_file"),
        ("context", "[none]"),
        ("id", "12"),
        ("id", '"has space"'),
    ],
)
def test_fields_are_strict(write_project: WriteProject, field: str, value: str) -> None:
    workflow = f"""\
        version: "1.0"
        nodes:
          - role: start
            {"name" if field == "id" else "id"}: a
            {field}: {value}  #!
          - {{id: z, role: exit}}
        edges:
          - {{from: a, to: z}}
        """
    issue = the(load_issues(project(write_project, workflow)), "manifest.invalid")
    assert issue.line == line_of(workflow)
    assert field in issue.message


def test_duplicate_yaml_key_is_reported_at_the_second_key(write_project: WriteProject) -> None:
    workflow = """\
        version: "1.0"
        nodes:
          - id: a
            role: start
            role: exit  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """
    issue = the(load_issues(project(write_project, workflow)), "yaml.duplicate_key")
    assert (issue.line, issue.column) == (line_of(workflow), 5)
    assert issue.file is not None
    assert issue.file.endswith("workflow.yaml")
    assert issue.hint


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param('version: "1.0"\nnodes:\n  - id: a\n    role: start\n  - id: z\n     role: exit  #!\n',
                     "yaml.syntax", id="bad-indentation"),
        pytest.param('version: "1.0"\nnodes:\n  - id: a\n    role: !!int start  #!\n', "yaml.syntax", id="bad-tag"),
        pytest.param('version: "1.0"\ndescription: 2001-13-45  #!\n', "yaml.syntax", id="impossible-date"),
        pytest.param('version: "1.0"\nnodes: &n\n  - id: a\n    role: start\n    tools: *n  #!\n',
                     "yaml.recursive", id="recursive-alias"),
    ],
)
def test_yaml_errors_are_located(write_project: WriteProject, text: str, code: str) -> None:
    issues = load_issues(project(write_project, text))
    issue = the(issues, code)
    assert issue.line == line_of(text)
    assert issue.file is not None
    assert issue.file.endswith("workflow.yaml")
    assert {i.code for i in issues} == {code}


def test_a_schema_file_that_is_not_json(write_project: WriteProject) -> None:
    root = project(write_project, """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """, **{"schemas/request.json": '{\n  "type": "object",\n  "required": ["a"\n}\n'})
    issue = the(load_issues(root), "schema.syntax")
    assert issue.file is not None
    assert issue.file.endswith("schemas/request.json")
    assert issue.line == 4


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param('{"type": "strng"}', id="unknown-type"),
        pytest.param('{"properties": {"a": {"minLength": -1}}}', id="nested"),
        pytest.param('["not", "a", "schema"]', id="not-an-object"),
        pytest.param('{"$schema": "https://example.com/my-dialect"}', id="unknown-dialect"),
        pytest.param('{"$schema": 7}', id="dialect-not-a-string"),
    ],
)
def test_a_schema_file_that_is_not_a_json_schema(write_project: WriteProject, schema: str) -> None:
    root = project(write_project, """\
        version: "1.0"
        nodes:
          - {id: a, role: start, schema_in: request}
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """, **{"schemas/request.json": schema})
    issues = load_issues(root)
    issue = the(issues, "schema.invalid")
    assert issue.file is not None
    assert issue.file.endswith("schemas/request.json")
    # the schema is not registered, so the node's reference does not resolve either
    assert the(issues, "dag.unknown_schema").node_id == "a"


def test_an_inline_schema_that_is_not_a_json_schema(write_project: WriteProject) -> None:
    workflow = """\
        version: "1.0"
        nodes:
          - id: a
            role: start
            schema_out: {type: strng}  #!
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """
    issue = the(load_issues(project(write_project, workflow)), "schema.invalid")
    assert (issue.line, issue.node_id) == (line_of(workflow), "a")


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("agent.yaml", "rename it to 'agents.yaml'"),
        ("agents.yml", "rename it to 'agents.yaml'"),
        ("workflows.yaml", "rename it to 'workflow.yaml'"),
        ("shceduler.yaml", "rename it to 'scheduler.yaml'"),
    ],
)
def test_misspelled_manifest_file_names(write_project: WriteProject, name: str, hint: str) -> None:
    root = project(write_project, """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """, **{name: "agents: []\n"})
    issue = the(load_issues(root), "manifest.unknown_file")
    assert issue.file is not None
    assert issue.file.endswith(name)
    assert issue.hint == hint


def test_unrelated_yaml_files_are_left_alone(write_project: WriteProject) -> None:
    root = project(write_project, """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: z, role: exit}
        edges:
          - {from: a, to: z}
        """, **{"docker-compose.yml": "services: {}\n", "mkdocs.yaml": "site_name: x\n"})
    assert Engine.from_config_dir(root).dag.order == ("a", "z")


def test_every_manifest_file_name_has_a_model() -> None:
    assert set(KNOWN_MANIFESTS) == set(MANIFEST_MODELS)


def test_missing_files(write_project: WriteProject, tmp_path: Path) -> None:
    no_workflow = write_project({"agents.yaml": AGENTS_YAML}, name="no_workflow")
    assert the(load_issues(no_workflow), "manifest.missing_file").file == str(no_workflow / "workflow.yaml")
    no_agents = write_project({"workflow.yaml": """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: work, kind: agent, role: linear, agent_id: editor}
          - {id: z, role: exit}
        edges:
          - {from: a, to: work}
          - {from: work, to: z}
        """}, name="no_agents")
    issues = load_issues(no_agents)
    assert the(issues, "manifest.missing_file").hint
    assert the(issues, "dag.unknown_agent").node_id == "work"
    assert the(load_issues(tmp_path / "nowhere"), "manifest.missing_file").hint


AGENT_WORKFLOW = """\
    version: "1.0"
    nodes:
      - {id: a, role: start}
      - {id: work, kind: agent, role: linear, agent_id: editor}
      - {id: z, role: exit}
    edges:
      - {from: a, to: work}
      - {from: work, to: z}
    """


@pytest.mark.parametrize(
    ("agents", "code", "hint"),
    [
        pytest.param(
            'agents:\n  - id: editor\n    llm: "openai/gpt-4o-mini"  #!\n',
            "agents.unknown_provider",
            "installed llm providers: replay, scripted; 'openai' is provided by agent-engine-openai: "
            "pip install -e adapters/openai (from the root of the agent-engine repository)", id="openai-not-installed",
        ),
        pytest.param(
            'agents:\n  - id: editor\n    llm: "acme/model-1"  #!\n',
            "agents.unknown_provider",
            "installed llm providers: replay, scripted; no distribution of this repository provides "
            "the llm provider 'acme'; install the one that does",
            id="unknown-provider",
        ),
        pytest.param(
            'agents:\n  - id: editor\n    llm: scripted/editor  #!\n',
            "agents.provider_config", None, id="scripted-without-responses",
        ),
        pytest.param(
            'agents:\n  - id: editor\n    llm: scripted/editor\n    config:\n      responses: {other: {}}  #!\n',
            "agents.provider_config", None, id="scripted-without-answer-for-the-node",
        ),
    ],
)
def test_agent_providers_are_checked_at_load(
    write_project: WriteProject, agents: str, code: str, hint: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")  # only the core's providers are installed
    issues = load_issues(project(write_project, AGENT_WORKFLOW, **{"agents.yaml": agents}))
    issue = the(issues, code)
    assert issue.file is not None
    assert issue.file.endswith("agents.yaml")
    assert issue.hint == hint
    assert issue.line == line_of(agents)
    assert len(issues) == 1


def test_issues_print_with_their_location(write_project: WriteProject) -> None:
    workflow = """\
        version: "1.0"
        nodes:
          - {id: a, role: start}
          - {id: z, role: exit}
        edges:
          - {from: a, to: zz}  #!
        """
    root = project(write_project, workflow)
    with pytest.raises(ManifestError) as info:
        Engine.from_config_dir(root)
    text = str(info.value)
    assert text.startswith(f"{len(info.value.issues)} problems in the project's manifests:")
    issue = the(info.value.issues, "dag.unknown_node")
    assert f"{root / 'workflow.yaml'}:{line_of(workflow)}:" in str(issue)
    assert "edge 'a->zz'" in str(issue)
    assert "(did you mean 'z'?)" in str(issue)
