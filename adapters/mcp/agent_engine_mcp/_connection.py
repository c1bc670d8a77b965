"""One live MCP session over the official SDK: open, list every tool (page by page), call, close.

The SDK's transports are async context managers that must be entered and left in the same task, so each
connection is owned by a task that opens it, signals that it is ready, and waits to be told to close it; calls
are made from other tasks of the same loop (``_runtime``). A stdio server's stderr goes to a temporary file, not
to the engine's: the last lines of it explain a server that died, and only a redacted excerpt is ever shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

from agent_engine_core.secrets import redact

from agent_engine_mcp._listing import Listing
from agent_engine_mcp._version import __version__

if TYPE_CHECKING:
    import mcp
    import mcp_types

    from agent_engine_mcp._config import ServerConfig

__all__ = ["Connection", "ConnectionLost", "describe_failure"]

T = TypeVar("T")

MAX_PAGES = 1000
"""A tool listing longer than this many pages is refused: a server whose cursor never ends cannot hang a load."""

_STDERR_TAIL = 600
"""How much of the end of a dead server's stderr its error quotes."""


class ConnectionLost(Exception):
    """The server went away (its process exited, its connection closed) while the session was in use."""


class Connection:
    """A session with one server, opened by ``open`` and closed by ``close``; ``lost`` once the server went away."""

    def __init__(self, config: ServerConfig, name: str) -> None:
        self.config = config
        self.name = name
        self.client: mcp.Client | None = None
        self.lost = False
        self._close = asyncio.Event()
        self._owner: asyncio.Task[None] | None = None
        self._stderr: IO[str] | None = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") \
            if config.command is not None else None
        self._last_words = ""
        self._refusal: str | None = None
        """The last HTTP error status a streamable-HTTP server answered with."""

    async def open(self) -> Connection:
        """Start (or reach) the server and complete the handshake, within ``connect_timeout_s``."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._owner = asyncio.create_task(self._own(ready), name=f"mcp session {self.name}")
        try:
            await asyncio.wait_for(asyncio.shield(ready), self.config.connect_timeout_s)
        except TimeoutError:
            await self.close()
            raise TimeoutError(f"the server did not answer within connect_timeout_s "
                               f"({self.config.connect_timeout_s:g} s){self.last_words()}") from None
        except BaseException:
            await self.close()
            raise
        return self

    async def _own(self, ready: asyncio.Future[None]) -> None:
        from mcp import Client, Implementation  # noqa: PLC0415 - the SDK loads with the first connection

        try:
            async with self._transport() as transport:
                client = Client(transport, cache=None, client_info=Implementation(name="agent-engine-mcp",
                                                                                  version=__version__))
                async with client:
                    self.client = client
                    ready.set_result(None)
                    await self._close.wait()
        except BaseException as exc:  # the owner ends with the session; whoever waits for it gets why
            self.lost = True
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else ConnectionLost("cancelled"))
            elif not isinstance(exc, Exception):
                raise
        finally:
            self.client = None

    @contextlib.asynccontextmanager
    async def _transport(self) -> AsyncIterator[Any]:
        config = self.config
        if config.command is not None:
            from mcp import StdioServerParameters  # noqa: PLC0415
            from mcp.client.stdio import stdio_client  # noqa: PLC0415

            env = {name: value if isinstance(value, str) else value.reveal() for name, value in config.env.items()}
            params = StdioServerParameters(command=config.command, args=list(config.args), env=env or None,
                                           cwd=config.cwd)
            yield stdio_client(params, errlog=cast("Any", self._stderr))
            return
        import httpx2  # noqa: PLC0415
        from mcp.client.streamable_http import streamable_http_client  # noqa: PLC0415

        headers = {name: value if isinstance(value, str) else value.reveal()
                   for name, value in config.headers.items()}
        async def remember_refusal(response: httpx2.Response) -> None:
            if response.is_error:  # the SDK reports "an error response"; which one explains it
                self._refusal = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()

        # the SDK's default timeouts (30 s, 300 s to read a held-open event stream), with the entry's headers
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0),
                                      event_hooks={"response": [remember_refusal]}) as http:
            yield streamable_http_client(str(config.url), http_client=http)

    @property
    def _client(self) -> mcp.Client:
        if self.client is None:
            raise ConnectionLost("the session is closed")
        return self.client

    async def listing(self) -> Listing:
        """Every tool the server lists (following ``nextCursor``), with its ``serverInfo`` and protocol version."""
        client = self._client
        tools: list[Mapping[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            page = await asyncio.wait_for(self._guarded(client.list_tools(cursor=cursor)),
                                          self.config.connect_timeout_s)
            tools.extend(t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
            if cursor in seen:
                raise ValueError(f"the server repeated the tools/list cursor {cursor!r}")
            seen.add(cursor)
        else:
            raise ValueError(f"the server's tool list goes on past {MAX_PAGES} pages")
        info = client.server_info
        server_info = info.model_dump(mode="json", by_alias=True, exclude_none=True) if info is not None else {}
        return Listing.of(server_info, client.protocol_version, tools)

    async def call(self, name: str, arguments: Mapping[str, Any]) -> mcp_types.CallToolResult:
        """``tools/call``; ``ConnectionLost`` when the server went away."""
        return await self._guarded(self._client.call_tool(name, dict(arguments)))

    async def _guarded(self, request: Awaitable[T]) -> T:
        from mcp import MCPError  # noqa: PLC0415
        from mcp_types import CONNECTION_CLOSED  # noqa: PLC0415

        try:
            return await request
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                self.lost = True
                raise ConnectionLost(exc.message) from None
            raise

    async def close(self) -> None:
        """Leave the session (a stdio server is sent EOF, then stopped if it lingers) and wait for that."""
        self._close.set()
        if self._owner is not None:
            with contextlib.suppress(Exception):
                await self._owner
        if self._stderr is not None:
            self._last_words = self._read_stderr()  # what a failure reported after the close can still quote
            self._stderr.close()
            self._stderr = None

    def _read_stderr(self) -> str:
        if self._stderr is None:
            return self._last_words
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            return self._stderr.read()
        except (OSError, ValueError):
            return ""

    def last_words(self) -> str:
        """What the server said as it failed, or nothing when it said nothing.

        ``; its stderr ended with: ...`` (redacted) for a stdio server, ``; it answered HTTP 401 Unauthorized``
        for an HTTP one.
        """
        if self._refusal is not None:
            return f"; it answered {self._refusal}"
        text = redact(self._read_stderr().strip(), self.config.secrets)
        if not text:
            return ""
        tail = text[-_STDERR_TAIL:]
        return f"; its stderr ended with: {'...' if len(tail) < len(text) else ''}{tail}"


def describe_failure(exc: BaseException) -> str:
    """What went wrong, from the innermost exceptions of the SDK's exception groups (``Type: message``)."""
    leaves: list[BaseException] = []

    def walk(found: BaseException) -> None:
        if isinstance(found, BaseExceptionGroup):
            for inner in found.exceptions:
                walk(inner)
        else:
            leaves.append(found)

    walk(exc)
    parts = []
    for leaf in leaves:
        message = str(leaf) or (leaf.strerror if isinstance(leaf, OSError) and leaf.strerror else "")
        parts.append(f"{type(leaf).__name__}: {message}" if message else type(leaf).__name__)
    return "; ".join(dict.fromkeys(parts))
