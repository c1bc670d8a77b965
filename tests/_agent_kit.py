"""A programmable LLM provider and a few tool types, registered through a plugin, for agent-call tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from agent_engine_core import Engine, hookimpl
from agent_engine_core.llm import LlmReply, LlmRequest, ProviderSetup, ToolCall
from agent_engine_core.tools import ToolResult, ToolSetup

Turn = LlmReply | Exception | Callable[[LlmRequest], Any]


def reply(content: Any = None, *tool_calls: tuple[str, str, dict[str, Any]], model: str = "m-1") -> LlmReply:
    """A reply with JSON ``content`` (text as is) and ``(id, name, arguments)`` tool calls."""
    import json

    text = content if isinstance(content, str) else json.dumps(content)
    return LlmReply(content=text if content is not None else "", model=model,
                    usage={"input_tokens": 10, "output_tokens": 3},
                    tool_calls=tuple(ToolCall(i, n, a) for i, n, a in tool_calls))


class Script:
    """The turns a ``scriptable`` agent plays, in call order, and every request it received."""

    def __init__(self, *turns: Turn) -> None:
        self.turns = list(turns)
        self.requests: list[LlmRequest] = []
        self.setups: list[ProviderSetup] = []

    def next(self, request: LlmRequest) -> LlmReply:
        self.requests.append(request)
        turn = self.turns.pop(0) if len(self.turns) > 1 else self.turns[0]
        if isinstance(turn, Exception):
            raise turn
        if callable(turn) and not isinstance(turn, LlmReply):
            return turn(request)
        return turn


class ScriptableProvider:
    def __init__(self, setup: ProviderSetup, script: Script, *, sync: bool) -> None:
        script.setups.append(setup)
        self.script = script
        self.model = setup.model
        if sync:
            self.complete = script.next  # a plain function: the engine runs it in a worker thread

    async def complete(self, request: LlmRequest) -> LlmReply:  # type: ignore[no-redef]
        await asyncio.sleep(0)
        return self.script.next(request)

    def check(self, node_ids: Any) -> list[str]:
        return []

    def describe(self) -> dict[str, str]:
        return {"sdk": "scriptable", "sdk_version": "1.0"}


class Kit:
    """Registers ``scriptable`` (async) and ``scriptable_sync`` providers and tool types ``kit.*``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.tool_log: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def register_llm_providers(self, register: Any) -> None:
        register("scriptable", lambda setup: ScriptableProvider(setup, self.script, sync=False))
        register("scriptable_sync", lambda setup: ScriptableProvider(setup, self.script, sync=True))

    @hookimpl
    def register_tools(self, register: Any) -> None:
        register("kit.add", lambda setup: _Tool(self, setup, "adds two numbers",
                                                {"type": "object", "properties": {"a": {"type": "number"},
                                                                                  "b": {"type": "number"}},
                                                 "required": ["a", "b"], "additionalProperties": False},
                                                lambda args: ToolResult.ok(args["a"] + args["b"])))
        register("kit.upper", lambda setup: _Tool(self, setup, "upper-cases text",
                                                  {"type": "object", "properties": {"text": {"type": "string"}},
                                                   "required": ["text"]},
                                                  lambda args: ToolResult.ok(args["text"].upper())))
        register("kit.disk_full", lambda setup: _Tool(self, setup, "always hits a full disk", {"type": "object"},
                                                      lambda args: ToolResult.environment("disk full")))
        register("kit.refuse", lambda setup: _Tool(self, setup, "refuses every call", {"type": "object"},
                                                   lambda args: ToolResult.misuse("path outside root")))


class _Tool:
    def __init__(self, kit: Kit, setup: ToolSetup, description: str, parameters: Mapping[str, Any],
                 run: Callable[[dict[str, Any]], ToolResult]) -> None:
        self.kit, self.id, self.description = kit, setup.spec.id, description
        self.parameters, self.run = parameters, run

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        self.kit.tool_log.append((self.id, dict(arguments)))
        return self.run(dict(arguments))


TOOLS = {"tools": [{"id": "add", "type": "kit.add"}, {"id": "upper", "type": "kit.upper"},
                   {"id": "disk", "type": "kit.disk_full"}, {"id": "refuse", "type": "kit.refuse"}]}


def agent_engine(script: Script, *, tools: list[str] | None = None, config: Mapping[str, Any] | None = None,
                 provider: str = "scriptable", schema_out: Any = None, plugins: tuple[Any, ...] = (),
                 **manifests: Any) -> tuple[Engine, Kit]:
    """start -> ask (agent with ``tools``) -> exit, the agent answering from ``script``."""
    kit = Kit(script)
    ask: dict[str, Any] = {"id": "ask", "role": "linear", "kind": "agent", "agent_id": "bot", "tools": tools or []}
    if schema_out is not None:
        ask["schema_out"] = schema_out
    workflow = {"version": "1.0", "nodes": [{"id": "s", "role": "start"}, ask, {"id": "x", "role": "exit"}],
                "edges": [{"from": "s", "to": "ask"}, {"from": "ask", "to": "x"}]}
    agents = {"agents": [{"id": "bot", "llm": f"{provider}/m-1", "prompt": "Be exact.", "config": dict(config or {}),
                          **manifests.pop("agent_fields", {})}]}
    engine = Engine.from_dict({"workflow": workflow, "agents": agents, "tools": TOOLS, **manifests},
                              plugins=[kit, *plugins])
    return engine, kit
