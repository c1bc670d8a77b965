"""General rules of the request mapping, for any generated input (Hypothesis): tool names the API accepts and
that map back, and message sequences that always alternate, lose nothing, and pass the API's checks."""

from __future__ import annotations

from _anthropic_kit import definition, make_request
from _fake_anthropic import validate_messages_request
from hypothesis import given
from hypothesis import strategies as st

from agent_engine_anthropic._mapping import API_TOOL_NAME, OUTPUT_TOOL_NAME, prepare, to_messages, tool_names
from agent_engine_anthropic._options import Options

tool_ids = st.from_regex(r"[A-Za-z0-9_.-]{1,80}", fullmatch=True)
texts = st.text(max_size=20)
call_ids = st.from_regex(r"toolu_[A-Za-z0-9]{1,8}", fullmatch=True)
int64 = st.integers(-(2**63), 2**64 - 1)  # the engine refuses integers beyond 64 bits
arguments = st.dictionaries(st.text(min_size=1, max_size=5), int64 | st.text(max_size=5), max_size=3)


@given(st.lists(tool_ids, max_size=12), st.booleans())
def test_tool_names_are_distinct_legal_and_map_back(ids, with_output):
    names = tool_names(ids, with_output=with_output)
    wires = [names.wire(i) for i in set(ids)]
    assert len(set(wires)) == len(wires)
    assert all(API_TOOL_NAME.match(w) for w in wires)
    assert all(names.engine(names.wire(i)) == i for i in ids)
    assert all(names.wire(i) == i for i in ids if API_TOOL_NAME.match(i))
    if with_output:
        assert names.output not in wires and API_TOOL_NAME.match(names.output)
        assert names.output.startswith(OUTPUT_TOOL_NAME)
    else:
        assert names.output is None
    assert tool_names(list(reversed(ids)), with_output=with_output) == names  # the order of tools does not matter


@st.composite
def messages(draw):
    """Any sequence of normalised messages that starts with a user message."""
    tail = draw(st.lists(st.one_of(
        st.builds(lambda t: {"role": "user", "content": t}, texts),
        st.builds(lambda t, calls: {"role": "assistant", "content": t,
                                    "tool_calls": [{"id": i, "name": n, "arguments": a} for i, n, a in calls]},
                  texts, st.lists(st.tuples(call_ids, tool_ids, arguments), max_size=3)),
        st.builds(lambda i, n, t: {"role": "tool", "tool_call_id": i, "name": n, "content": t}, call_ids, tool_ids,
                  texts),
    ), max_size=10))
    return [{"role": "user", "content": draw(texts)}, *tail]


def flatten(turns, kind, key):
    blocks = [b for t in turns if isinstance(t["content"], list) for b in t["content"]]
    return [b[key] for b in blocks if b["type"] == kind]


@given(messages())
def test_any_conversation_maps_to_alternating_turns_that_keep_every_call_and_result(conversation):
    names = tool_names([c["name"] for m in conversation for c in m.get("tool_calls", [])], with_output=False)
    turns = to_messages(conversation, names)
    assert [t["role"] for t in turns] == ["user", "assistant"] * (len(turns) // 2) + ["user"] * (len(turns) % 2)
    calls = [c for m in conversation for c in m.get("tool_calls", [])]
    assert flatten(turns, "tool_use", "id") == [c["id"] for c in calls]
    assert flatten(turns, "tool_use", "name") == [names.wire(c["name"]) for c in calls]
    results = [m["tool_call_id"] for m in conversation if m["role"] == "tool"]
    assert sorted(flatten(turns, "tool_result", "tool_use_id")) == sorted(results)
    for turn in turns:
        if isinstance(turn["content"], list) and turn["role"] == "user":
            kinds = [b["type"] for b in turn["content"]]
            assert kinds == sorted(kinds, key=lambda k: k != "tool_result")  # tool results lead


@st.composite
def engine_conversations(draw):
    """What the engine sends: a user message, then rounds of an assistant turn with calls and their results."""
    conversation = [{"role": "user", "content": draw(texts.filter(str.strip))}]
    used_ids = set()
    for _ in range(draw(st.integers(0, 4))):
        calls = draw(st.lists(st.tuples(call_ids.filter(lambda i: i not in used_ids), tool_ids, arguments),
                              min_size=1, max_size=3, unique_by=lambda c: c[0]))
        used_ids.update(i for i, _, _ in calls)
        conversation.append({"role": "assistant", "content": draw(texts),
                             "tool_calls": [{"id": i, "name": n, "arguments": a} for i, n, a in calls]})
        conversation += [{"role": "tool", "tool_call_id": i, "name": n, "content": draw(texts)} for i, n, _ in calls]
    return conversation


@given(engine_conversations(), st.booleans())
def test_every_engine_conversation_passes_the_api_request_checks(conversation, with_schema):
    tools = sorted({c["name"] for m in conversation for c in m.get("tool_calls", [])})
    request = make_request(conversation, tools=[definition(t) for t in tools],
                           schema={"type": "object"} if with_schema else None)
    params = dict(prepare(request, Options()).params)
    assert validate_messages_request(params) is None
