"""A real MCP server for the tests, written with the official SDK's low-level ``Server``: a small calculator.

Run over stdio (``python calc_server.py``, as a tools.yaml entry does) or over streamable HTTP on 127.0.0.1
(``python calc_server.py --http PORT_FILE``: it binds a free port, writes it to PORT_FILE, and requires
``Authorization: Bearer $CALC_HTTP_TOKEN`` when that variable is set). Its tool list is paged, one tool per
page, so every client must follow ``nextCursor``.

Tools: ``add`` (structured ``{"sum"}``), ``sub`` (text), ``echo`` (text), ``divide`` (``isError`` on zero),
``whoami`` (text that echoes ``$CALC_SECRET``: a server leaking what it was given), ``crash`` (writes
``$CALC_SECRET`` to stderr and exits), ``slow`` (sleeps ``seconds``).

Environment: ``CALC_STARTS`` -- a file that gets one line per start (the tests count processes);
``CALC_VARIANT`` or the file ``CALC_VARIANT_FILE`` names -- ``changed`` re-describes ``add`` and adds ``mul``;
``CALC_VERSION`` -- the version in serverInfo (default 1.0.0).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

NUMBERS = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
           "required": ["a", "b"], "additionalProperties": False}


def variant() -> str:
    chosen = os.environ.get("CALC_VARIANT", "")
    named = os.environ.get("CALC_VARIANT_FILE")
    if named and Path(named).exists():
        chosen = Path(named).read_text().strip()
    return chosen


def tools() -> list[types.Tool]:
    changed = variant() == "changed"
    listed = [
        types.Tool(name="add", description="Adds a and b" if changed else "Add two numbers",
                   input_schema=NUMBERS, output_schema={"type": "object", "properties": {"sum": {"type": "number"}},
                                                        "required": ["sum"]}),
        types.Tool(name="sub", description="Subtract b from a", input_schema=NUMBERS),
        types.Tool(name="echo", description="Echo the text back",
                   input_schema={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        types.Tool(name="divide", description="Divide a by b", input_schema=NUMBERS),
        types.Tool(name="whoami", description="Say who the server runs as", input_schema={"type": "object"}),
        types.Tool(name="crash", description="Exit in the middle of the call", input_schema={"type": "object"}),
        types.Tool(name="slow", description="Sleep, then answer", input_schema={
            "type": "object", "properties": {"seconds": {"type": "number"}}, "required": ["seconds"]}),
    ]
    if changed:
        listed.append(types.Tool(name="mul", description="Multiply a by b", input_schema=NUMBERS))
    return listed


async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    listed = tools()
    start = int(params.cursor) if params is not None and params.cursor else 0
    more = start + 1 < len(listed)
    return types.ListToolsResult(tools=listed[start:start + 1], next_cursor=str(start + 1) if more else None)


def text(value: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=value)], is_error=error)


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:  # noqa: PLR0911 - one answer per tool
    arguments = params.arguments or {}
    name = params.name
    if name == "add":
        total = arguments["a"] + arguments["b"]
        return types.CallToolResult(content=[types.TextContent(type="text", text=str(total))],
                                    structured_content={"sum": total})
    if name == "sub":
        return text(str(arguments["a"] - arguments["b"]))
    if name == "echo":
        return text(arguments["text"])
    if name == "divide":
        if arguments["b"] == 0:
            return text("cannot divide by zero", error=True)
        return text(str(arguments["a"] / arguments["b"]))
    if name == "whoami":
        return text(f"calc, holding the token {os.environ.get('CALC_SECRET', '(none)')}")
    if name == "crash":
        print(f"crashing on purpose; token {os.environ.get('CALC_SECRET', '(none)')}", file=sys.stderr, flush=True)
        os._exit(3)
    if name == "slow":
        await anyio.sleep(arguments["seconds"])
        return text("done")
    return text(f"unknown tool {name}", error=True)


server = Server("calc", version=os.environ.get("CALC_VERSION", "1.0.0"), on_list_tools=list_tools,
                on_call_tool=call_tool)


def count_start() -> None:
    starts = os.environ.get("CALC_STARTS")
    if starts:
        with open(starts, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()}\n")


async def serve_stdio() -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def serve_http(port_file: Path) -> None:
    import uvicorn

    app = server.streamable_http_app()
    token = os.environ.get("CALC_HTTP_TOKEN")

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and token:
            sent = dict(scope["headers"]).get(b"authorization", b"").decode()
            if sent != f"Bearer {token}":
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port_file.write_text(str(sock.getsockname()[1]))
    uvicorn.Server(uvicorn.Config(guarded, log_level="warning", lifespan="on")).run(sockets=[sock])


if __name__ == "__main__":
    count_start()
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        serve_http(Path(sys.argv[2]))
    else:
        anyio.run(serve_stdio)
