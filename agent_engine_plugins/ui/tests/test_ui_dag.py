"""The server-side layout and drawing of a workflow: general rules, for any DAG and any node ids."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_ui.dag import Graph, GraphEdge, GraphNode, NodeMark, layers_of, render_svg
from agent_engine_ui.views import at_pointer

SVG = "{http://www.w3.org/2000/svg}"
ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30)


@st.composite
def dags(draw: st.DrawFn) -> Graph:
    """A random DAG: edges only go from an earlier node to a later one of a random order."""
    names = draw(st.lists(ids, min_size=1, max_size=24, unique=True))
    order = draw(st.permutations(names))
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1:]]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=40)) if pairs else []
    nodes = tuple(GraphNode(name, draw(st.sampled_from(["start", "linear", "decision", "merge", "exit"])),
                            draw(st.booleans())) for name in names)
    return Graph(nodes, tuple(GraphEdge(a, b, draw(st.one_of(st.none(), ids))) for a, b in chosen))


@settings(max_examples=150, deadline=None)
@given(graph=dags())
def test_every_node_is_in_one_layer_and_every_edge_points_down(graph: Graph):
    layers = layers_of(graph)
    placed = [node_id for layer in layers for node_id in layer]
    assert sorted(placed) == sorted(node.id for node in graph.nodes)
    depth = {node_id: row for row, layer in enumerate(layers) for node_id in layer}
    assert all(depth[edge.source] < depth[edge.target] for edge in graph.edges)
    assert all(layers), "no empty layer"


@settings(max_examples=100, deadline=None)
@given(graph=dags(), data=st.data())
def test_the_svg_is_well_formed_and_marks_what_the_run_did(graph: Graph, data: st.DataObject):
    marks = {node.id: NodeMark(data.draw(st.sampled_from(["success", "failure", "partial"])), 1)
             for node in graph.nodes if data.draw(st.booleans())}
    taken = {(e.source, e.target) for e in graph.edges if data.draw(st.booleans())}
    svg = ElementTree.fromstring(render_svg(graph, marks, taken))  # any id is escaped: it still parses
    drawn = {g.get("data-node"): g.get("class").split() for g in svg.iter(f"{SVG}g") if g.get("data-node") is not None}
    assert set(drawn) == {node.id for node in graph.nodes}
    for node in graph.nodes:
        expected = marks[node.id].status if node.id in marks else "none"
        assert f"s-{expected}" in drawn[node.id]
    paths = [p for p in svg.iter(f"{SVG}path") if p.get("data-from") is not None]
    assert len(paths) == len(graph.edges)
    assert {(p.get("data-from"), p.get("data-to")) for p in paths if "taken" in p.get("class").split()} == taken


def test_a_node_that_ran_only_in_fan_out_tasks_is_framed_with_their_count():
    graph = Graph((GraphNode("fan", "split"), GraphNode("work", "linear"), GraphNode("more", "linear"),
                   GraphNode("join", "merge")),
                  (GraphEdge("fan", "work"), GraphEdge("work", "more"), GraphEdge("more", "join")))
    marks = {"fan": NodeMark("success", 1), "work": NodeMark("success", 3, 3, root=False),
             "more": NodeMark("failure", 3, 3, root=False), "join": NodeMark("partial", 1)}
    svg = render_svg(graph, marks, [])
    assert svg.count('<rect class="fanout"') == 1  # one frame: work and more are linked
    assert "fan-out · 3 task(s)" in svg
    assert "\u00d73" in svg  # "ran 3 times", with a multiplication sign


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                      max_size=3), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(document=json_values, data=st.data())
def test_a_json_pointer_names_the_value_at_its_path_whatever_the_keys(document, data: st.DataObject):
    path, expected = [], document
    while isinstance(expected, dict | list) and expected and data.draw(st.booleans()):
        step = data.draw(st.sampled_from(sorted(expected) if isinstance(expected, dict) else range(len(expected))))
        path.append(step)
        expected = expected[step]
    pointer = "".join("/" + str(step).replace("~", "~0").replace("/", "~1") for step in path)
    assert at_pointer(document, pointer) == expected


@pytest.mark.parametrize("pointer", ["/a/c", "/list/5", "/list/x", "/a/b/c", "/a/b/"])
def test_a_pointer_to_nothing_is_a_key_error_naming_it(pointer: str):
    with pytest.raises(KeyError) as raised:
        at_pointer({"a": {"b": 1}, "list": [1]}, pointer)
    assert raised.value.args == (pointer,)
