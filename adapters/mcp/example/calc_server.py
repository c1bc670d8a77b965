"""calc: a Model Context Protocol server with two tools, on the official SDK (``python calc_server.py``: stdio)."""

from typing import TypedDict

from mcp.server.mcpserver import MCPServer

server = MCPServer("calc", version="1.0.0")


class Sum(TypedDict):
    sum: float


@server.tool()
def add(a: float, b: float) -> Sum:
    """Add two numbers."""
    return {"sum": a + b}


@server.tool()
def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


if __name__ == "__main__":
    server.run()
