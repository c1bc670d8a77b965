"""Helpers of the tools-std tests: tools built through the plugin, a planted tree, a local HTTP server.

The attack tree (``plant``) puts a root beside an ``outside`` folder holding a canary file, with symbolic links
inside the root that point in, out, up and in circles. ``outside_state`` snapshots everything outside the root,
so a test can assert that nothing there was read into a result, changed or created.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from agent_engine_core import Engine, hookimpl
from agent_engine_core.llm import LlmReply, LlmRequest, ToolCall
from agent_engine_core.manifests.models import ToolSpec
from agent_engine_core.tools import Tool, ToolResult, ToolSetup

from agent_engine_tools_std import plugin

CANARY = "CANARY-7f3e9a1c-outside-the-root"
"""The content of the files planted outside the root: it must never appear in a result or a trace."""

PLUGIN = ("tools-std", "agent_engine_tools_std.plugin", "agent-engine-tools-std")
"""The entry point as ``fake_entry_points`` takes it: the engine discovers this distribution and no other."""


def factories() -> dict[str, Callable[[ToolSetup], Tool]]:
    """The tool types the plugin registers, by name (what the engine's registry receives)."""
    found: dict[str, Callable[[ToolSetup], Tool]] = {}
    plugin.register_tools(found.__setitem__)
    return found


def build(type_name: str, root: Path | None = None, *, project_dir: Path | None = None, **fields: Any) -> Tool:
    """A tool of ``type_name`` as the engine would build it from a tools.yaml entry (``root`` resolved)."""
    spec = ToolSpec(id="tool", type=type_name, root=None if root is None else str(root), **fields)
    if root is not None and project_dir is not None and not root.is_absolute():
        root = project_dir / root
    resolved = None if root is None else root.resolve()
    return factories()[type_name](ToolSetup(spec, resolved, project_dir))


def plant(base: Path) -> Path:
    """Build the attack tree under ``base`` and return the root."""
    root = base / "root"
    outside = base / "outside"
    (root / "a" / "b").mkdir(parents=True)
    (outside / "dir").mkdir(parents=True)
    (outside / "canary.txt").write_text(CANARY)
    (outside / "dir" / "canary.txt").write_text(CANARY)
    (root / "top.txt").write_text("top inside")
    (root / "a" / "f.txt").write_text("f inside")
    (root / "a" / "b" / "g.txt").write_text("g inside")
    links = {
        "in": "a",                                      # relative, inside
        "absin": str(root / "a" / "b"),                 # absolute, inside
        "in_file": "a/f.txt",                           # a file link, inside
        "up": "..",                                     # the root's parent
        "out": "../outside",                            # relative, directory outside
        "absout": str(outside),                         # absolute, directory outside
        "canary_link": "../outside/canary.txt",         # relative, file outside
        "abscanary": str(outside / "canary.txt"),       # absolute, file outside
        "dangling_out": "../outside/planted.txt",       # dangling, outside (a write would create it)
        "loop1": "loop2",
        "loop2": "loop1",
        "root_itself": str(root),                       # absolute, the root
        "slash": "/",
        "a/deep_out": "../../outside/dir",              # inside an intermediate directory, pointing out
        "a/b/back": "../../a",                          # inside, through two levels of ..
        "in_slash": "a/",                               # a trailing slash
        "dotted": "./a/./b/.",                          # dots in the target
        "up_slash": "../",                              # the root's parent, with a slash
        "deep_in": "a/b",                               # inside, two levels down: deep_in/.. is a, not the root
        "gone_out": "../nowhere/deeper",                # dangling, into a missing directory outside
        "via_missing": "missing/../a",                  # through a missing directory, back inside
        "via_missing_out": "missing/../../outside",     # through a missing directory, then out
    }
    for name, target in links.items():
        os.symlink(target, root / name)
    return root


def outside_state(base: Path) -> dict[str, Any]:
    """Everything under ``base`` except the root: relative path -> content (files) or link target or 'dir'."""
    return tree_state(base, skip="root")


def tree_state(base: Path, skip: str | None = None) -> dict[str, Any]:
    """Everything under ``base`` but its child ``skip``: relative path -> content, link target or 'dir'."""
    state: dict[str, Any] = {}
    for directory, dirs, files in os.walk(base):
        here = Path(directory)
        if here == base:
            dirs[:] = [d for d in dirs if d != skip]
        for name in [*dirs, *files]:
            path = here / name
            key = str(path.relative_to(base))
            if path.is_symlink():
                state[key] = ("link", os.readlink(path))
            elif path.is_dir():
                state[key] = "dir"
            else:
                state[key] = path.read_bytes()
    return state


def within(root: Path | str, real: str) -> bool:
    """Whether the absolute path ``real`` is the root or below it."""
    return real == str(root) or real.startswith(str(root) + os.sep)


def inside(root: Path, path: str) -> bool:
    """Whether ``root/path`` resolves (as the kernel would) to the root or below it."""
    return within(root, os.path.realpath(os.path.join(root, path)))


class Resolution:
    """How ``root/path`` resolves, worked out on path strings: the target, and whether the walk left the root.

    The reference the tools are checked against: it follows the kernel's algorithm (``..`` goes to the
    parent of the directory reached so far, a link's target is walked in its place, from ``/`` when absolute)
    and, like ``os.path.realpath``, goes on lexically past a component that does not exist. ``left`` is set
    when any point of the walk lies outside the root (where the tools refuse, even if the walk came back),
    ``loop`` when it met more than 40 links; an absolute link target is taken as the tools take it, a path
    below the root's own or else outside.
    """

    def __init__(self, root: Path, path: str) -> None:
        self.root = str(root)
        self.left = False
        self.loop = False
        self.hops = 0
        self.target = self._walk(self.root, path)

    @property
    def misuse(self) -> bool:
        return self.left or self.loop

    def _walk(self, current: str, path: str) -> str:
        for part in path.split("/"):
            if self.left or self.loop:
                break
            if part in ("", "."):
                continue
            if part == "..":
                current = os.path.dirname(current)
            else:
                candidate = os.path.join(current, part)
                current = self._link(candidate) if os.path.islink(candidate) else candidate
            self.left = self.left or not within(self.root, current)
        return current

    def _link(self, link: str) -> str:
        self.hops += 1
        if self.hops > 40:
            self.loop = True
            return link
        target = os.readlink(link)
        if not target.startswith("/"):
            return self._walk(os.path.dirname(link), target)
        rest = target.split("/")
        for want in self.root.split("/")[1:]:  # the target must begin with the root's components
            while rest and rest[0] in ("", "."):
                rest.pop(0)
            if not rest or rest.pop(0) != want:
                self.left = True
                return target
        return self._walk(self.root, "/".join(rest))


def as_text(value: Any) -> str:
    """Any result, record or event as one JSON text, to search for the canary."""
    if isinstance(value, ToolResult):
        value = value.to_dict()
    return json.dumps(value, default=repr)


# --- engines ---------------------------------------------------------------------------------------------------


def one_node_workflow(node: Mapping[str, Any]) -> dict[str, Any]:
    """start -> ``node`` (id ``work``) -> exit."""
    return {"version": "1.0", "nodes": [{"id": "s", "role": "start"}, {"id": "work", "role": "linear", **node},
                                        {"id": "x", "role": "exit"}],
            "edges": [{"from": "s", "to": "work"}, {"from": "work", "to": "x"}]}


def call_tool(payload: Mapping[str, Any], ctx: Any) -> Any:
    """A handler: ``ctx.tools.<payload["tool"]>(**payload["args"])``, returned as a dict."""
    return getattr(ctx.tools, payload["tool"])(**payload.get("args", {})).to_dict()


def handler_engine(base: Path, tools: list[dict[str, Any]], allowed: list[str], **kwargs: Any) -> Engine:
    """An engine whose node ``work`` runs ``call_tool`` with the tools ``allowed`` (config dir: ``base``)."""
    workflow = one_node_workflow({"handler": "h:call", "tools": allowed})
    return Engine.from_dict({"workflow": workflow, "tools": {"tools": tools}}, base_dir=base,
                            handlers={"h:call": call_tool}, **kwargs)


def reply(content: Any = None, *calls: tuple[str, str, dict[str, Any]]) -> LlmReply:
    """A model reply: JSON ``content`` and ``(id, name, arguments)`` tool calls."""
    text = "" if content is None else json.dumps(content)
    return LlmReply(content=text, model="m-1", usage={"input_tokens": 1, "output_tokens": 1},
                    tool_calls=tuple(ToolCall(i, n, a) for i, n, a in calls))


class ScriptedModel:
    """A plugin registering the async provider ``scriptable``, which plays ``replies`` in order."""

    def __init__(self, *replies: LlmReply) -> None:
        self.replies = list(replies)
        self.requests: list[LlmRequest] = []

    @hookimpl
    def register_llm_providers(self, register: Callable[..., None]) -> None:
        register("scriptable", lambda setup: _Provider(self))


class _Provider:
    def __init__(self, model: ScriptedModel) -> None:
        self.model = model

    async def complete(self, request: LlmRequest) -> LlmReply:
        await asyncio.sleep(0)
        self.model.requests.append(request)
        return self.model.replies.pop(0)

    def check(self, node_ids: Any) -> list[str]:
        return []

    def describe(self) -> dict[str, str]:
        return {"sdk": "scriptable", "sdk_version": "1.0"}


def agent_engine(base: Path, tools: list[dict[str, Any]], allowed: list[str], model: ScriptedModel,
                 plugins: tuple[Any, ...] = ()) -> Engine:
    """An engine whose node ``work`` is an agent answering from ``model``, with the tools ``allowed``."""
    workflow = one_node_workflow({"kind": "agent", "agent_id": "bot", "tools": allowed})
    agents = {"agents": [{"id": "bot", "llm": "scriptable/m-1", "prompt": "Use the tools."}]}
    return Engine.from_dict({"workflow": workflow, "agents": agents, "tools": {"tools": tools}}, base_dir=base,
                            plugins=[model, *plugins])


# --- a local HTTP server -----------------------------------------------------------------------------------------


class LocalServer:
    """An HTTP server on 127.0.0.1 with a few routes; ``hits`` and ``headers`` list what each request asked."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.headers: list[dict[str, str]] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.hits.append(self.path)
                owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                try:
                    owner.route(self)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: expected
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def route(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        if parsed.path == "/text":
            self._send(handler, 200, b"hello", "text/plain; charset=utf-8", {"X-Demo": "yes"})
        elif parsed.path == "/latin1":
            self._send(handler, 200, "caf\u00e9".encode("latin-1"), "text/plain; charset=iso-8859-1")
        elif parsed.path == "/big":
            size = int(query["n"])
            handler.send_response(200)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            sent = 0
            while sent < size:
                chunk = min(64 * 1024, size - sent)
                handler.wfile.write(b"a" * chunk)
                sent += chunk
        elif parsed.path.startswith("/status/"):
            self._send(handler, int(parsed.path.rsplit("/", 1)[1]), b"nope", "text/plain")
        elif parsed.path == "/redirect":
            handler.send_response(302)
            handler.send_header("Location", query["to"])
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        elif parsed.path == "/slow":
            handler.send_response(200)
            handler.send_header("Content-Length", "4")
            handler.end_headers()
            handler.wfile.flush()
            time.sleep(float(query.get("s", "3")))
            handler.wfile.write(b"late")
        elif parsed.path == "/headers":
            body = json.dumps({k.lower(): v for k, v in handler.headers.items()}).encode()
            self._send(handler, 200, body, "application/json")
        else:
            self._send(handler, 404, b"no such route", "text/plain")

    @staticmethod
    def _send(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
              headers: Mapping[str, str] | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)


def running_server() -> Iterator[LocalServer]:
    """A fixture body: a started ``LocalServer``, stopped afterwards."""
    with LocalServer() as server:
        yield server
