"""What the adapter returns: Messages API replies read into ``LlmReply`` (content, tool calls, usage, ids)."""

from __future__ import annotations

from _anthropic_kit import definition, make_request
from _fake_anthropic import text, tool_use
from agent_engine_core.llm import ToolCall

from agent_engine_anthropic import OUTPUT_TOOL_NAME

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def test_a_text_reply_maps_content_model_usage_stop_reason_and_id(server, make_provider, ask):
    server.enqueue_message('{"title": "A"}', model="claude-test-1-20990101", usage=(31, 9), message_id="msg_42")
    reply = ask(make_provider(), make_request())
    assert reply.content == '{"title": "A"}'
    assert reply.model == "claude-test-1-20990101"
    assert dict(reply.usage) == {"input_tokens": 31, "output_tokens": 9}
    assert reply.finish_reason == "end_turn"
    assert reply.response_id == "msg_42"
    assert reply.tool_calls == ()


def test_text_blocks_are_joined_in_order(server, make_provider, ask):
    server.enqueue_message(text("Part one. "), text("Part two."))
    assert ask(make_provider(), make_request()).content == "Part one. Part two."


def test_tool_use_blocks_become_tool_calls_and_the_text_before_them_the_content(server, make_provider, ask):
    server.enqueue_message(text("Reading both."), tool_use("read_file", {"path": "a.md"}, id="toolu_1"),
                           tool_use("read_file", {"path": "b.md", "lines": [1, 2]}, id="toolu_2"))
    reply = ask(make_provider(), make_request(tools=[definition("read_file")]))
    assert reply.content == "Reading both."
    assert reply.finish_reason == "tool_use"
    assert reply.tool_calls == (ToolCall("toolu_1", "read_file", {"path": "a.md"}),
                                ToolCall("toolu_2", "read_file", {"path": "b.md", "lines": [1, 2]}))


def test_the_output_tool_is_the_answer_and_ends_the_turn(server, make_provider, ask):
    server.enqueue_message(text("Done."), tool_use("read_file", {"path": "c.md"}),
                           tool_use(OUTPUT_TOOL_NAME, {"title": "Ünïcode ✓"}), stop_reason="tool_use")
    reply = ask(make_provider(), make_request(schema=SCHEMA, tools=[definition("read_file")]))
    assert reply.content == '{"title": "Ünïcode ✓"}'
    assert reply.tool_calls == ()
    assert reply.finish_reason == "tool_use"


def test_a_reply_without_the_output_tool_passes_its_text_and_stop_reason_on(server, make_provider, ask):
    server.enqueue_message(text('{"title": "cut'), stop_reason="max_tokens")
    reply = ask(make_provider(), make_request(schema=SCHEMA))
    assert (reply.content, reply.finish_reason) == ('{"title": "cut', "max_tokens")


def test_block_types_the_adapter_does_not_use_are_ignored(server, make_provider, ask):
    server.enqueue_message({"type": "thinking", "thinking": "hmm", "signature": "c2ln"}, text("ok"))
    assert ask(make_provider(), make_request()).content == "ok"


def test_the_reply_records_as_json(server, make_provider, ask):
    server.enqueue_message(tool_use("read_file", {"path": "a.md"}, id="toolu_1"), message_id="msg_7")
    reply = ask(make_provider(), make_request(tools=[definition("read_file")]))
    assert reply.to_dict() == {"content": "", "model": "claude-test-1", "finish_reason": "tool_use",
                               "response_id": "msg_7",
                               "tool_calls": [{"id": "toolu_1", "name": "read_file", "arguments": {"path": "a.md"}}]}
