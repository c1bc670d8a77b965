"""The ``mcp`` tool type: the tools of one MCP server as a ``ToolSet``, pinned, one session per run.

At load the server is started (or reached), its whole tool list is read and hashed (``_listing``), and the
hash is checked against the entry's ``pin``; the allow-listed tools become ``<entry id>.<name>`` tools whose
parameters are the server's input schemas. An engine built for a replay describes a pinned entry from
``mcp.lock.json`` instead and never reaches the server: its calls are answered from the recording.

A call runs on the runtime loop in its run's session (``_sessions``) under the entry's ``timeout_s``, and its
result becomes a ``ToolResult``: ``structuredContent`` when the server gave it, else the text (the text blocks
joined by newlines; other blocks as their JSON), ``isError`` a failure with the server's message; a server that
went away, a timeout or a transport error is an environment error. Every result records the server and the pin
in its ``meta``. The keys the server is given (credentials in ``env`` or ``headers``) are redacted from
everything that comes back.
"""

from __future__ import annotations

import contextvars
import json
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_engine_core.codec import dumps, loads
from agent_engine_core.errors import ToolError
from agent_engine_core.secrets import redact
from agent_engine_core.tools import Tool, ToolResult, ToolSetup, current_scope

from agent_engine_mcp._config import TOOL_NAME, ServerConfig, read_config
from agent_engine_mcp._connection import Connection, ConnectionLost, describe_failure
from agent_engine_mcp._listing import Listing, canonical
from agent_engine_mcp._lock import LOCK_FILE, LockError, locked_listing, read_lock
from agent_engine_mcp._runtime import Runtime
from agent_engine_mcp._sessions import Sessions, SessionUnusable

if TYPE_CHECKING:
    import mcp_types

__all__ = ["Found", "McpServer", "McpTool", "collecting"]


@dataclass(frozen=True, slots=True)
class Found:
    """What ``collecting`` gathers of an entry: its server config and the listing the server gave."""

    config: ServerConfig
    listing: Listing


_COLLECTING: contextvars.ContextVar[dict[str, Found] | None] = contextvars.ContextVar(
    "agent_engine_mcp_collecting", default=None)


@contextmanager
def collecting() -> Iterator[dict[str, Found]]:
    """While open, entries built in this thread skip the pin check and leave their listing in the dict yielded.

    For ``agent-engine mcp list`` and ``lock``, which must read a server whose tool list no longer matches its pin.
    """
    found: dict[str, Found] = {}
    token = _COLLECTING.set(found)
    try:
        yield found
    finally:
        _COLLECTING.reset(token)


class McpServer:
    """The tools of one server entry (``tools``: name -> ``McpTool``), with the engine's tool lifecycle."""

    def __init__(self, setup: ToolSetup) -> None:
        spec = setup.spec
        self.entry_id = spec.id
        self.timeout_s = spec.timeout_s
        unread = read_config(spec.config, setup.project_dir, setup.credential, resolve_secrets=False)
        locked = self._locked(setup, unread.pin) if setup.for_replay else None
        self.config = unread if locked is not None else read_config(spec.config, setup.project_dir,
                                                                    setup.credential)
        self.described_from = LOCK_FILE if locked is not None else "server"
        self._runtime = Runtime(f"agent-engine-mcp {spec.id}")
        try:
            self.listing = locked or self._runtime.call(self._list(setup.for_replay))
        except BaseException:
            self._runtime.close()
            raise
        collected = _COLLECTING.get()
        if collected is not None:
            collected[spec.id] = Found(self.config, self.listing)
        elif self.config.pin is not None and self.config.pin != self.listing.pin:
            self._runtime.close()
            raise ToolError(self._pin_mismatch(setup))
        self.sessions = Sessions(self.config, spec.id, self.listing)
        self._runs: set[str | None] = set()
        self._runs_lock = threading.Lock()
        try:
            self.tools: Mapping[str, Tool] = {name: McpTool(self, self.listing.tool(name) or {})
                                              for name in self._exposed()}
        except ToolError:
            self._runtime.close()
            raise
        self._shutdown = weakref.finalize(self, _shut_down, self._runtime, self.sessions)

    @staticmethod
    def _locked(setup: ToolSetup, pin: str | None) -> Listing | None:
        try:
            return locked_listing(setup.project_dir, setup.spec.id, pin)
        except LockError as exc:
            raise ToolError(str(exc)) from None

    def _failure(self, what: str, exc: BaseException, connection: Connection | None = None) -> str:
        """``what`` went wrong with the server, why, and its stderr's last words; the server's keys redacted."""
        tail = connection.last_words() if connection is not None else ""
        return redact(f"{what} MCP server '{self.entry_id}' ({self.config.describe()}): "
                      f"{describe_failure(exc)}{tail}", self.config.secrets)

    async def _list(self, for_replay: bool) -> Listing:
        connection = Connection(self.config, self.entry_id)
        try:
            await connection.open()
            return await connection.listing()
        except Exception as exc:
            hint = (f" (a replay needs no server once '{LOCK_FILE}' pins the entry: run 'agent-engine mcp lock')"
                    if for_replay else "")
            raise ToolError(self._failure("cannot list the tools of", exc, connection) + hint) from None
        finally:
            await connection.close()

    def _pin_mismatch(self, setup: ToolSetup) -> str:
        pinned = self.config.pin
        head = (f"the tool list of MCP server '{self.entry_id}' ({self.config.describe()}) is not the pinned one: "
                f"config.pin is {pinned}, the server lists {self.listing.pin}")
        try:
            before = read_lock(setup.project_dir).get(self.entry_id) if setup.project_dir is not None else None
        except LockError:
            before = None
        if before is not None and before.pin == pinned:
            changes = "\n".join(f"  {line}" for line in self.listing.diff(before))
            body = f"; what changed since it was locked:\n{changes}\n"
        else:
            body = (f"; {LOCK_FILE} has no listing with that pin to compare with; the server now lists: "
                    f"{', '.join(self.listing.names) or 'no tools'}\n")
        return redact(head + body + "review the change, then run 'agent-engine mcp lock DIR' to pin the new list",
                      self.config.secrets)

    def _exposed(self) -> tuple[str, ...]:
        names = self.listing.names
        if self.config.tools is None:
            unfit = [n for n in names if not TOOL_NAME.match(n)]
            if unfit:
                raise ToolError(f"MCP server '{self.entry_id}' lists tools whose names cannot be part of a tool id "
                                f"({', '.join(map(repr, unfit))}); list the others in config.tools")
            return names
        missing = [n for n in self.config.tools if n not in names]
        if missing:
            raise ToolError(f"config.tools names {', '.join(map(repr, missing))}, which MCP server "
                            f"'{self.entry_id}' does not list; it lists: {', '.join(names) or 'no tools'}")
        return self.config.tools

    # ---- the tool lifecycle (agent_engine_core.tools) ------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """What every result's metadata says of the server: identity, protocol, pin, tools, where it came from."""
        return {"transport": self.config.transport, "server": dict(self.listing.server_info),
                "protocol_version": self.listing.protocol_version, "pin": self.listing.pin,
                "pinned": self.config.pin is not None, "tools": sorted(self.tools),
                "described_from": self.described_from}

    def finish_run(self, run_id: str) -> None:
        """Close the run's session, if it opened one (without waiting: the server stops in the background)."""
        with self._runs_lock:
            if run_id not in self._runs:
                return
            self._runs.discard(run_id)
        self._runtime.submit(self.sessions.finish(run_id))

    def close(self) -> None:
        """Close every session and stop the loop."""
        self._shutdown()

    # ---- calls ---------------------------------------------------------------------------------------------

    def call(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        """Call tool ``name`` in the session of the run the engine is calling for."""
        if self.described_from == LOCK_FILE:
            return ToolResult.environment(f"MCP server '{self.entry_id}' is not contacted: this engine was built for "
                                          f"a replay and describes it from {LOCK_FILE}", self._meta)
        scope = current_scope()
        run_id = scope.run_id if scope is not None else None
        with self._runs_lock:
            self._runs.add(run_id)
        # the loop enforces the call's timeout and the session's; this outer bound only guards against a hang
        budget = 4 * self.config.connect_timeout_s + self.timeout_s + 5.0
        return self._runtime.call(self._call(run_id, name, arguments), budget)

    @property
    def _meta(self) -> dict[str, str]:
        return {"server": self.listing.server, "pin": self.listing.pin}

    async def _call(self, run_id: str | None, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        try:
            connection = await self.sessions.session(run_id)
        except SessionUnusable as exc:
            return ToolResult.environment(redact(str(exc), self.config.secrets), self._meta)
        except Exception as exc:
            return ToolResult.environment(self._failure("cannot start", exc), self._meta)
        return await self._request(connection, name, arguments)

    async def _request(self, connection: Connection, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        """One ``tools/call`` in an open session, under the entry's ``timeout_s``."""
        import asyncio  # noqa: PLC0415 - the loop's own module, already loaded

        from mcp import MCPError  # noqa: PLC0415

        try:
            result = await asyncio.wait_for(connection.call(name, arguments), self.timeout_s)
        except TimeoutError:
            message = f"MCP tool '{self.entry_id}.{name}' gave no answer within {self.timeout_s:g} s (timeout_s)"
        except ConnectionLost as exc:
            message = self._failure("lost", exc, connection) + "; the next call starts it again"
        except MCPError as exc:
            message = redact(f"MCP server '{self.entry_id}' refused the call of '{name}': {exc.message}",
                             self.config.secrets)
        except Exception as exc:  # the SDK's or the transport's failure: an environment error of this call
            message = self._failure(f"the call of '{name}' failed on", exc, connection)
        else:
            return self._result(name, result)
        return ToolResult.environment(message, self._meta)

    def _result(self, name: str, result: mcp_types.CallToolResult) -> ToolResult:
        blocks = [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]
        texts = [block["text"] for block in blocks if block.get("type") == "text"]
        if result.is_error:
            message = "\n".join(texts) or "the server reported an error without a message"
            return ToolResult.misuse(redact(f"MCP tool '{self.entry_id}.{name}' reported an error: {message}",
                                            self.config.secrets), self._meta)
        if result.structured_content is not None:
            output: Any = result.structured_content
        elif len(texts) == len(blocks):
            output = "\n".join(texts)
        else:
            output = blocks
        return ToolResult.ok(self._redacted(output), self._meta)

    def _redacted(self, output: Any) -> Any:
        """``output`` without any form of the server's keys (a server may echo what it was given)."""
        if not self.config.secrets:
            return output
        text = dumps(output)
        clean = redact(text, self.config.secrets)
        return output if clean == text else loads(clean)


class McpTool:
    """One tool of the server, as the engine binds it (``<entry id>.<name>``): its schema, its calls."""

    external = True
    """Its answers come from the server: a replay answers it from the recording."""

    def __init__(self, server: McpServer, listed: Mapping[str, Any]) -> None:
        self._server = server
        self.name = str(listed["name"])
        self.description = str(listed.get("description") or f"MCP tool '{self.name}' of server "
                                                               f"'{server.listing.server or server.entry_id}'")
        # keys sorted, as the pin reads them: a server that only reorders a schema's keys, and a description
        # from mcp.lock.json, give a model the very same definition (a replay compares it byte for byte)
        self.parameters: Mapping[str, Any] = json.loads(canonical(listed.get("inputSchema") or {"type": "object"}))

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Call the tool on the server, in the session of the current run."""
        return self._server.call(self.name, arguments)


def _shut_down(runtime: Runtime, sessions: Sessions) -> None:
    """Close the sessions (their server processes end) and stop the loop; once, at close or collection."""
    if not runtime.running:
        return
    try:
        runtime.call(sessions.close_all(), timeout_s=30.0)
    except TimeoutError:
        pass  # a server that will not stop: the loop goes, its process is left to its own EOF
    finally:
        runtime.close()
