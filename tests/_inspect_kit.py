"""A persistent run store, a tool-calling provider and a project on disk, for the inspector CLI's tests.

``PLUGIN`` registers provider ``toolbot`` (asks tool ``shout`` once, then answers with its result) and tool type
``kit.shout``. Another process finds it through ``install_entry_point``: a ``.dist-info`` folder whose entry
point names this module, put on ``PYTHONPATH`` with the tests folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_engine_core import hookimpl
from agent_engine_core.llm import LlmReply, LlmRequest, ProviderSetup, ToolCall
from agent_engine_core.tools import ToolResult, ToolSetup


class ToolBot:
    """Asks for ``shout`` with the user's ``topic`` first; once the tool answered, replies ``{"answer": ...}``."""

    def __init__(self, setup: ProviderSetup) -> None:
        self.model = setup.model

    async def complete(self, request: LlmRequest) -> LlmReply:
        usage = {"input_tokens": 12, "output_tokens": 4}
        last = request.messages[-1]
        if last["role"] == "tool":
            return LlmReply(content=json.dumps({"answer": json.loads(last["content"])}), model=self.model,
                            usage=usage)
        topic = json.loads(request.messages[0]["content"])["input"]["topic"]
        return LlmReply(content="", model=self.model, usage=usage,
                        tool_calls=(ToolCall("call-1", "shout", {"text": topic}),))

    def check(self, node_ids: Any) -> list[str]:
        return []

    def describe(self) -> dict[str, str]:
        return {"sdk": "toolbot", "sdk_version": "1.0"}


class Shout:
    """Tool type ``kit.shout``: the text upper-cased."""

    description = "upper-cases text"
    parameters: Mapping[str, Any] = {"type": "object", "properties": {"text": {"type": "string"}},
                                     "required": ["text"]}

    def __init__(self, setup: ToolSetup) -> None:
        self.id = setup.spec.id

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        return ToolResult.ok(str(arguments["text"]).upper())


class InspectKit:
    """The plugin: provider ``toolbot``, tool type ``kit.shout``."""

    @hookimpl
    def register_llm_providers(self, register: Any) -> None:
        register("toolbot", ToolBot)

    @hookimpl
    def register_tools(self, register: Any) -> None:
        register("kit.shout", Shout)


PLUGIN = InspectKit()


def install_entry_point(folder: Path) -> Path:
    """A ``.dist-info`` in ``folder`` whose ``agent_engine`` entry point is ``PLUGIN`` (for another process)."""
    info = folder / "agent_engine_inspect_kit-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agent-engine-inspect-kit\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[agent_engine]\ninspect_kit = _inspect_kit:PLUGIN\n")
    return folder


WORKFLOW = """\
version: "1.0"
nodes:
  - {id: begin, role: start, handler: "nodes:begin"}
  - {id: ask, role: linear, kind: agent, agent_id: bot, tools: [shout], context: seen}
  - {id: split, role: split, handler: "nodes:split", context: seen}
  - {id: each, role: linear, handler: "nodes:each"}
  - {id: gather, role: merge, handler: "nodes:gather"}
  - {id: done, role: exit}
edges:
  - {from: begin, to: ask}
  - {from: ask, to: split}
  - {from: split, to: each}
  - {from: each, to: gather}
  - {from: gather, to: done}
"""

NODES = """\
def begin(payload, ctx):
    return {"topic": payload["topic"], "words": payload["words"]}


def split(payload, ctx):
    words = next(e["payload"]["words"] for e in ctx.context if "begin" in e["tags"])
    return {"subtask_inputs": [{"word": w, "answer": payload["answer"]} for w in words]}


def each(payload, ctx):
    if payload["word"] == "boom":
        raise ValueError("cannot take boom")
    return {"word": payload["word"], "length": len(payload["word"])}


def gather(payload, ctx):
    return {"lengths": [item["output"]["length"] for item in payload["merge_inputs"] if item["status"] == "success"]}
"""


def project_files(runs: Mapping[str, Any]) -> dict[str, Any]:
    """The project's files: begin -> ask (agent calling ``shout``, context ``seen``) -> split -> each -> gather."""
    return {
        "workflow.yaml": WORKFLOW,
        "nodes.py": NODES,
        "agents.yaml": {"agents": [{"id": "bot", "llm": "toolbot/m-1", "prompt": "Shout the topic."}]},
        "tools.yaml": {"tools": [{"id": "shout", "type": "kit.shout"}]},
        "memory.yaml": {"context_profiles": [{"id": "seen", "sources": [{"store": "task"}]}], "runs": dict(runs)},
    }
