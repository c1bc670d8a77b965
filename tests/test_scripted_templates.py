"""The scripted provider's templates and scripted tool calls: answers that follow the input, tools really called."""

from __future__ import annotations

import pytest
from _agent_kit import TOOLS, Kit, Script
from hypothesis import given
from hypothesis import strategies as st

from agent_engine_core import Engine, ManifestError
from agent_engine_core.providers._templates import FILTERS, Template

WORKFLOW = {"version": "1.0", "nodes": [{"id": "s", "role": "start"},
                                        {"id": "ask", "role": "linear", "kind": "agent", "agent_id": "bot",
                                         "tools": ["add", "upper"]},
                                        {"id": "x", "role": "exit"}],
            "edges": [{"from": "s", "to": "ask"}, {"from": "ask", "to": "x"}]}


def scripted(config: dict, **manifests) -> tuple[Engine, Kit]:
    kit = Kit(Script())
    agents = {"agents": [{"id": "bot", "llm": "scripted/bot", "config": config}]}
    return Engine.from_dict({"workflow": WORKFLOW, "agents": agents, "tools": TOOLS, **manifests},
                            plugins=[kit]), kit


def test_an_answer_follows_the_input_it_is_given():
    engine, _ = scripted({"responses": {"ask": {"title": "{{ input.topic | title }}",
                                                "line": "About {{ input.topic }}: {{ input.n }} notes.",
                                                "n": "{{ input.n }}", "tags": "{{ input.tags }}"}}})
    with engine:
        one = engine.run({"topic": "ocean tides", "n": 3, "tags": ["sea"]})
        two = engine.run({"topic": "moon phases", "n": 1, "tags": []})
    assert one.output == {"title": "Ocean Tides", "line": "About ocean tides: 3 notes.", "n": 3, "tags": ["sea"]}
    assert two.output == {"title": "Moon Phases", "line": "About moon phases: 1 notes.", "n": 1, "tags": []}


def test_scripted_tool_calls_run_first_and_the_answer_reads_their_results():
    engine, kit = scripted({
        "tool_calls": {"ask": [{"name": "upper", "arguments": {"text": "{{ input.word }}"}},
                               {"name": "add", "arguments": {"a": "{{ input.n }}", "b": 2}}]},
        "responses": {"ask": {"shout": "{{ tools.upper.output }}", "sum": "{{ tools.add.output }}",
                              "asked": "{{ tools.add.arguments.a }}"}},
    })
    with engine:
        result = engine.run({"word": "tide", "n": 40})
    assert result.output == {"shout": "TIDE", "sum": 42, "asked": 40}
    assert kit.tool_log == [("upper", {"text": "tide"}), ("add", {"a": 40, "b": 2})]
    (stage,) = [r for r in result.trace.records if r.node_id == "ask"]
    assert [c.tool_id for c in stage.tool_calls] == ["upper", "add"]
    assert len(stage.agent_calls) == 2  # the round that asked for the tools, then the answer


def test_a_path_that_leads_nowhere_fails_the_node_naming_what_is_there():
    engine, _ = scripted({"responses": {"ask": {"title": "{{ input.titel }}"}}})
    with engine:
        result = engine.run({"title": "x"})
    assert result.status == "failure"
    assert result.error["kind"] == "agent"
    assert "{{input.titel}}: input has no 'titel' (it has: title)" in result.error["message"]


@pytest.mark.parametrize(("template", "message"), [
    ("{{ inptu.x }}", "a path starts at one of node, input, context, tools, not 'inptu'"),
    ("{{ input.x | shout }}", "unknown filter 'shout'"),
    ("{{ }}", "is not a path like input.request"),
])
def test_a_broken_template_is_a_load_error(template, message):
    with pytest.raises(ManifestError) as caught:
        scripted({"responses": {"ask": {"a": template}}})
    assert message in str(caught.value)


def test_tool_calls_for_a_node_the_agent_does_not_serve_are_a_load_error():
    with pytest.raises(ManifestError, match="has tool_calls for node 'ask2', which is not one of its nodes"):
        scripted({"responses": {"ask": 1}, "tool_calls": {"ask2": [{"name": "add", "arguments": {}}]}})


def test_the_markdown_filters():
    text = "# Tides\n\nThe sea's rise-and-fall.\n\n## Causes\n- moon\n  ### Not a heading\n### Timing ##\n"
    scope = {"input": text}
    assert Template.of("{{ input | words }}").render(scope) == 10  # sea's and rise-and-fall are one word each
    assert Template.of("{{ input | headings }}").render(scope) == ["Tides", "Causes", "Not a heading", "Timing"]
    assert Template.of("{{ input | sections }}").render(scope) == ["Causes", "Not a heading", "Timing"]
    assert Template.of("{{ input | lines }}").render(scope) == 8
    assert Template.of("{{ input | count }}").render({"input": [1, 2]}) == 2
    assert Template.of("{{ input | sentence }}").render({"input": "write a note"}) == "Write a note."


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=40))
def test_text_without_placeholders_is_left_as_written(text):
    assert Template.of(text) == text


@given(st.text(max_size=60))
def test_a_filled_in_string_is_the_text_around_the_value(value):
    rendered = Template.of("<{{ input.v }}>").render({"input": {"v": value}})
    assert rendered == f"<{value}>"


@given(st.lists(st.text(alphabet="abcxyzé019", min_size=1, max_size=8), max_size=12),
       st.sampled_from(["", "# ", "- ", "* ", "> "]))
def test_words_counts_the_words_and_not_the_markdown_markup(words, markup):
    assert FILTERS["words"](markup + " ".join(words)) == len(words)
    assert FILTERS["words"](markup + " ".join(words) + " extra") == len(words) + 1


def test_a_missing_index_says_how_long_the_list_is():
    with pytest.raises(ValueError, match=r"input\.items is a list of 1, which has no '3'"):
        Template.of("{{ input.items.3 }}").render({"input": {"items": [0]}})
