"""Helpers of the agent-engine-mcp tests: projects around the calc server, process counts, an HTTP server.

``write_project`` writes a config dir holding a copy of ``servers/calc_server.py`` (so ``args: [calc_server.py]``
resolves from the config dir, as in the README), a tools.yaml with one ``calc`` entry, a workflow whose
``work`` node runs a handler of ``nodes.py`` and, optionally, an agent node. ``python`` in a tools.yaml
resolves to this interpreter (the ``path_to_this_python`` fixture puts its folder first on ``PATH``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SERVER = HERE / "servers" / "calc_server.py"
PLUGIN = ("mcp", "agent_engine_mcp.plugin", "agent-engine-mcp")
"""The entry point as ``fake_entry_points`` takes it."""

NODES = '''
from agent_engine_core.handler import ToolMisuse


def add_ten_times(payload, ctx):
    total = payload.get("start", 0)
    for step in range(10):
        total = ctx.tools["calc.add"](a=total, b=step).output["sum"]
    return {"total": total}


def call(payload, ctx):
    """Call each tool of payload["calls"] ([tool id, arguments]) and return every result as its dict."""
    found = []
    for tool_id, arguments in payload["calls"]:
        try:
            found.append(ctx.tools[tool_id](**arguments).to_dict())
        except ToolMisuse as refused:
            found.append({"misuse": str(refused)})
    return {"results": found}
'''


def write_project(root: Path, *, config: Mapping[str, Any] | None = None, entry: Mapping[str, Any] | None = None,
                  handler: str = "nodes:add_ten_times", node_tools: tuple[str, ...] = ("calc.add",),
                  agent: Mapping[str, Any] | None = None, files: Mapping[str, Any] | None = None) -> Path:
    """A config dir: the calc server, ``tools.yaml`` (``entry``, or a ``calc`` entry with ``config``), a workflow.

    With ``agent`` (an agents.yaml agent entry, id ``clerk``), an agent node ``ask`` after ``work`` may use
    ``calc.add``.
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(SERVER, root / "calc_server.py")
    calc = dict(entry) if entry is not None else {
        "id": "calc", "type": "mcp",
        "config": dict(config or {"command": "python", "args": ["calc_server.py"], "tools": ["add"]})}
    (root / "tools.yaml").write_text(yaml.safe_dump({"tools": [calc]}, sort_keys=False))
    (root / "nodes.py").write_text(textwrap.dedent(NODES))
    nodes: list[dict[str, Any]] = [{"id": "s", "role": "start"},
                                   {"id": "work", "role": "linear", "handler": handler, "tools": list(node_tools)}]
    links = [{"from": "s", "to": "work"}]
    last = "work"
    if agent is not None:
        nodes.append({"id": "ask", "role": "linear", "kind": "agent", "agent_id": "clerk", "tools": ["calc.add"]})
        links.append({"from": "work", "to": "ask"})
        last = "ask"
        (root / "agents.yaml").write_text(yaml.safe_dump({"agents": [dict(agent)]}, sort_keys=False))
    nodes.append({"id": "x", "role": "exit"})
    links.append({"from": last, "to": "x"})
    (root / "workflow.yaml").write_text(yaml.safe_dump({"version": "1.0", "nodes": nodes, "edges": links},
                                                       sort_keys=False))
    for name, content in (files or {}).items():
        path = root / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return root


def starts(counter: Path) -> int:
    """How many times the server started (``CALC_STARTS`` files get a line per start)."""
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def wait_for(condition: Any, timeout_s: float = 10.0) -> bool:
    """Poll ``condition()`` until it holds (a server stops in the background after its run)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie child counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stage(result: Any, node_id: str) -> Any:
    """The (first) stage record of ``node_id``."""
    return next(r for r in result.trace if r.node_id == node_id)


class HttpServer:
    """The calc server over streamable HTTP on 127.0.0.1, in a process of its own for the session."""

    def __init__(self, folder: Path, token: str) -> None:
        self.port_file = folder / "port"
        self.starts = folder / "starts"
        env = {**os.environ, "CALC_HTTP_TOKEN": token, "CALC_STARTS": str(self.starts)}
        self.process = subprocess.Popen([sys.executable, str(SERVER), "--http", str(self.port_file)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(lambda: self.port_file.exists() and self.port_file.read_text().strip(), 30.0):
            self.stop()
            raise RuntimeError("the HTTP calc server did not start")
        self.url = f"http://127.0.0.1:{self.port_file.read_text().strip()}/mcp"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def running_http_server(folder: Path, token: str) -> Iterator[HttpServer]:
    server = HttpServer(folder, token)
    try:
        yield server
    finally:
        server.stop()


def lock_document(project: Path) -> dict[str, Any]:
    return json.loads((project / "mcp.lock.json").read_text())
