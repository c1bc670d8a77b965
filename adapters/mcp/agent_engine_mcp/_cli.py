"""``agent-engine mcp list DIR`` and ``agent-engine mcp lock DIR``: a project's MCP servers, their tools and pins.

Both load the project as ``agent-engine validate`` does (so credentials are read the same way), with every mcp
entry reaching its server and keeping the listing it got even when it no longer matches its pin: ``list`` shows
each server, its tools (exposed or not) and whether its pin still holds; ``lock`` writes the pins into
tools.yaml and the listings into ``mcp.lock.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from agent_engine_core import Engine
from agent_engine_core.errors import InvalidInput, ToolError

from agent_engine_mcp._lock import LockError, pin_entries, write_lock, write_text
from agent_engine_mcp._server import Found, collecting

__all__ = ["mcp"]


@click.group(name="mcp", short_help="MCP servers of a project: list their tools, pin their tool lists.")
def mcp() -> None:
    """The MCP servers of a project's tools.yaml (entries of type mcp): list their tools, pin their tool lists."""


def _servers(config_dir: Path) -> tuple[dict[str, Found], dict[str, int], Path]:
    """Every mcp entry's listing (by entry id), its position in tools.yaml, and the tools.yaml path."""
    with collecting() as found:
        with Engine.from_config_dir(config_dir, runs=False) as engine:
            project = engine.project
    positions = {spec.id: index for index, spec in enumerate(project.tools.tools) if spec.type == "mcp"}
    tools_file = Path(project.source("tools").file)
    if not positions:
        raise InvalidInput(f"{tools_file} has no entry of type mcp")
    return {entry_id: found[entry_id] for entry_id in positions}, positions, tools_file


def _status(entry: Found) -> str:
    if entry.config.pin is None:
        return "unpinned"
    return "pinned" if entry.config.pin == entry.listing.pin else "changed"


def _describe(entry_id: str, entry: Found) -> dict[str, Any]:
    allowed = entry.config.tools
    return {
        "id": entry_id, "transport": entry.config.transport, "target": entry.config.describe(),
        "server": dict(entry.listing.server_info), "protocol_version": entry.listing.protocol_version,
        "pin": entry.listing.pin, "config_pin": entry.config.pin, "status": _status(entry),
        "tools": [{"name": tool["name"], "id": f"{entry_id}.{tool['name']}",
                   "exposed": allowed is None or tool["name"] in allowed, "description": tool.get("description")}
                  for tool in entry.listing.tools],
    }


_STATUS_TEXT = {
    "pinned": "matches config.pin",
    "unpinned": "not pinned: 'agent-engine mcp lock DIR' pins it",
    "changed": "CHANGED: config.pin is {config_pin}",
}


@mcp.command(name="list", short_help="Show each MCP server, its tools and whether its pin holds.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def list_servers(config_dir: Path, as_json: bool) -> None:
    """Show each MCP server of CONFIG_DIR's tools.yaml: what it is, its tools (exposed or not) and its pin."""
    found, _, _ = _servers(config_dir)
    described = [_describe(entry_id, entry) for entry_id, entry in found.items()]
    if as_json:
        click.echo(json.dumps({"servers": described}, indent=2, ensure_ascii=False))
        return
    for server in described:
        info = " ".join(str(server["server"].get(k, "")) for k in ("name", "version")).strip() or "(unnamed)"
        click.echo(f"{server['id']}  {server['transport']}  {server['target']}")
        click.echo(f"  server:  {info}, protocol {server['protocol_version']}")
        click.echo(f"  pin:     {server['pin']}  ({_STATUS_TEXT[server['status']].format(**server)})")
        width = max((len(t["id"]) for t in server["tools"]), default=0)
        click.echo("  tools:" if server["tools"] else "  tools:   none")
        for tool in server["tools"]:
            shown = tool["id"] if tool["exposed"] else f"({tool['name']})"
            note = tool["description"] or ""
            if not tool["exposed"]:
                note = "not exposed: not in config.tools"
            click.echo(f"    {shown:<{width + 2}}  {note}".rstrip())


@mcp.command(short_help="Pin each MCP server's tool list: config.pin in tools.yaml, the list in mcp.lock.json.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
def lock(config_dir: Path) -> None:
    """Read each MCP server of CONFIG_DIR's tools.yaml and pin its tool list.

    The pin (the hash of serverInfo, protocol version and tools) goes into the entry's config.pin in tools.yaml,
    the listing into mcp.lock.json beside it: a changed tool list then fails the load with what changed, and a
    replay describes the tools from the lock without starting the server.
    """
    found, positions, tools_file = _servers(config_dir)
    changed = {positions[entry_id]: entry.listing.pin for entry_id, entry in found.items()
               if entry.config.pin != entry.listing.pin}
    try:
        if changed:
            write_text(tools_file, pin_entries(tools_file.read_text(encoding="utf-8"), changed, str(tools_file)))
        written = write_lock(tools_file.parent, {entry_id: entry.listing for entry_id, entry in found.items()})
    except (LockError, OSError) as exc:
        raise ToolError(str(exc)) from None
    for entry_id, entry in found.items():
        was = entry.config.pin
        note = "unchanged" if was == entry.listing.pin else ("new" if was is None else f"was {was}")
        click.echo(f"{entry_id}: {entry.listing.pin} ({note}; {len(entry.listing.tools)} tools, "
                   f"server {entry.listing.server or '(unnamed)'})")
    click.echo(f"wrote {written}" + (f" and the pins in {tools_file}" if changed else f"; {tools_file} unchanged"))

