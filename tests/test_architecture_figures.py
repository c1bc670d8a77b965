"""docs/ARCHITECTURE.md's figures are the code's: figure 1 is ``agent-engine graph``'s output, figure 4's task
ids and their parents are those of a real run, and the five diagrams the build plan asks for are there."""

from __future__ import annotations

import re

from doc_blocks import ROOT, fenced_blocks

from agent_engine_core import Engine
from agent_engine_core.cli import mermaid

ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
HEADINGS = ["## 1. DAG structure", "## 2. Node lifecycle", "## 3. Routing semantics of the seven roles",
            "## 4. Task lineage", "## 5. Plugin flow and telemetry events"]


def diagram_under(heading: str) -> str:
    """The first Mermaid block after ``heading``."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    line = text[:text.index(heading)].count("\n") + 1
    return next(b.text for b in fenced_blocks(ARCHITECTURE) if b.lang == "mermaid" and b.line > line)


def test_the_five_diagrams_have_a_caption_and_an_explanation():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    for heading in HEADINGS:
        section = next(s for s in sections if ("## " + s).startswith(heading))
        assert "```mermaid" in section, heading
        after = section.rsplit("```", 1)[1]
        assert re.search(r"^\*Figure \d[ab]? — ", after, flags=re.MULTILINE), f"{heading}: no caption"
        assert len(after.split()) > 80, f"{heading}: the text explaining the figure is missing"


def test_figure_1_is_what_agent_engine_graph_prints_for_the_mini_editor():
    graph = mermaid(Engine.from_config_dir(ROOT / "examples" / "mini_editor" / "config").dag)
    assert diagram_under(HEADINGS[0]) + "\n" == graph


def test_figure_4_shows_the_tasks_of_a_map_reduce_run():
    result = Engine.from_config_dir(ROOT / "examples" / "map_reduce").run({"text": "One two.\n\nThree."},
                                                                           run_id="demo")
    tasks = {summary.task_id: summary.lineage for summary in result.trace.tasks}
    figure = diagram_under(HEADINGS[3])
    boxes = dict(re.findall(r'^\s+(\w+)\["([^<"]+)<br/>', figure, flags=re.MULTILINE))
    assert sorted(boxes.values()) == sorted(tasks)
    created = re.findall(r'^\s+(\w+) -->\|"(split: subtask|branch: clone)"\| (\w+)$', figure, flags=re.MULTILINE)
    assert len(created) == len(tasks) - 1
    for parent, how, child in created:
        lineage = tasks[boxes[child]]
        assert lineage.parent_id == boxes[parent]
        assert lineage.kind == how.split(": ")[1]
    for box, task_id in boxes.items():
        nodes = re.search(rf'^\s+{box}\["[^"]*?: ([^"]*)"\]', figure, flags=re.MULTILINE)
        assert nodes is not None, box
        ran = [record.node_id for record in result.trace if record.task_id == task_id]
        assert nodes.group(1).split(", ") == ran, task_id


def test_figure_3_is_a_valid_workflow_with_all_seven_roles():
    """Each box of figure 3 is a node whose role is the first word of its text; the engine accepts the graph."""
    figure = diagram_under(HEADINGS[2])
    shapes = re.findall(r'(\w+)[(\[{/\\]+"(\w+)<br/>', figure)
    roles = {node_id: role for node_id, role in shapes}
    roles.update(re.findall(r'(\w+)\(\(\("(exit)"\)\)\)', figure))
    assert sorted(set(roles.values())) == ["branch", "decision", "exit", "linear", "merge", "split", "start"]
    arrows = [re.fullmatch(r'\s*(\w+)\W.*?-->(?:\|"([^"]+)"\|)? (\w+).*', line)
              for line in figure.splitlines() if "-->" in line]
    edges = [{"from": a.group(1), "to": a.group(3), **({"label": a.group(2)} if a.group(2) else {})}
             for a in arrows if a is not None]
    assert len(edges) == len(arrows) == 13
    nodes = [{"id": node_id, "role": role, **({"handler": "decide"} if role == "decision" else {})}
             for node_id, role in roles.items()]
    made = Engine.from_dict({"workflow": {"version": "1.0", "nodes": nodes, "edges": edges}},
                            handlers={"decide": lambda payload, ctx: payload["way"]})
    try:
        assert made.run({"way": "direct"}).status == "success"
        assert [r.node_id for r in made.run({"way": "direct"}).trace] == ["start", "decide", "edit", "join", "done"]
    finally:
        made.close()
