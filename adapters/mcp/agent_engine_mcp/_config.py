"""The ``config:`` of a tools.yaml entry of type ``mcp``: one server, as MCP client configs name it.

Either a stdio server (``command``, ``args``, ``env``, ``cwd``) or a streamable-HTTP one (``url``, ``headers``);
``tools`` allow-lists the server's tools the entry exposes (all of them when absent), ``pin`` is the hash of
the tool list the project was locked against, ``connect_timeout_s`` bounds starting the server and listing
its tools. A value of ``env`` or ``headers`` is a string, or ``{credential: <id>}`` (optionally with ``prefix:
"Bearer "``) naming a provider_credentials.yaml entry whose key is put there: the key never appears in
tools.yaml, and it is handed to the server only when the session is opened.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_engine_core.errors import ToolError
from agent_engine_core.secrets import Secret

__all__ = ["PIN", "TOOL_NAME", "SecretValue", "ServerConfig", "read_config"]

PIN = re.compile(r"^sha256:[0-9a-f]{64}$")
"""What ``pin:`` holds: ``sha256:`` and the hex digest of the server's canonical tool list."""

TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
"""A tool name that can be part of a tool id (``<entry id>.<name>``), which nodes list in ``tools:``."""

_STDIO_KEYS = frozenset({"command", "args", "env", "cwd"})
_HTTP_KEYS = frozenset({"url", "headers"})
_COMMON_KEYS = frozenset({"tools", "pin", "connect_timeout_s"})
_KEYS = _STDIO_KEYS | _HTTP_KEYS | _COMMON_KEYS

DEFAULT_CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class SecretValue:
    """An ``env`` or header value read from a credential: ``prefix`` then the key."""

    credential_id: str
    secret: Secret
    prefix: str = ""

    def reveal(self) -> str:
        """The value itself, for the one place it is handed to the transport."""
        return self.prefix + self.secret.reveal()


Value = str | SecretValue


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One MCP server and what of it the entry exposes."""

    command: str | None
    args: tuple[str, ...]
    env: Mapping[str, Value]
    cwd: Path | None
    url: str | None
    headers: Mapping[str, Value]
    tools: tuple[str, ...] | None
    """The allow-list; ``None`` exposes every tool the server lists."""
    pin: str | None
    connect_timeout_s: float

    @property
    def transport(self) -> str:
        """``stdio`` or ``streamable-http``."""
        return "stdio" if self.command is not None else "streamable-http"

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Every key this server is given, for redaction."""
        values = [*self.env.values(), *self.headers.values()]
        return tuple(v.secret for v in values if isinstance(v, SecretValue))

    def describe(self) -> str:
        """The server as a person names it: the command line or the URL (never a value of env or headers)."""
        if self.command is not None:
            return " ".join([self.command, *self.args])
        return str(self.url)


def read_config(
    config: Mapping[str, Any], project_dir: Path | None, credential: Callable[[str], Secret] | None,
    *, resolve_secrets: bool = True,
) -> ServerConfig:
    """The server config of an entry; ``ToolError`` naming the key at fault.

    With ``resolve_secrets=False`` (an engine that will not reach the server) credentials are named, not read.
    """
    for key in sorted(set(config) - _KEYS):
        near = difflib.get_close_matches(key, sorted(_KEYS), n=1)
        raise ToolError(f"mcp has no config key '{key}'" + (f" (did you mean '{near[0]}'?)" if near else "")
                        + f"; accepted keys: {', '.join(sorted(_KEYS))}")
    command, url = config.get("command"), config.get("url")
    if (command is None) == (url is None):
        raise ToolError("an mcp entry names one server: config.command (a stdio server) or config.url (a "
                        "streamable-HTTP server)" + (", not both" if command is not None else ""))
    transport_keys = _STDIO_KEYS if command is not None else _HTTP_KEYS
    other = sorted((set(config) & (_STDIO_KEYS | _HTTP_KEYS)) - transport_keys)
    if other:
        kind = "a stdio server (command)" if command is not None else "a streamable-HTTP server (url)"
        raise ToolError(f"config.{other[0]} does not apply to {kind}")
    read = _Reader(credential, resolve_secrets)
    if command is not None:
        _string(command, "command")
    if url is not None and not re.match(r"^https?://", _string(url, "url")):
        raise ToolError(f"config.url must be an http:// or https:// URL, not {url!r}")
    cwd = config.get("cwd")
    folder = None
    if cwd is not None:
        folder = Path(_string(cwd, "cwd")).expanduser()
        if not folder.is_absolute() and project_dir is not None:
            folder = project_dir / folder
    elif command is not None:
        folder = project_dir  # relative paths in args start at the config dir, as a tool's root does
    pin = config.get("pin")
    if pin is not None and not (isinstance(pin, str) and PIN.match(pin)):
        raise ToolError(f"config.pin must be 'sha256:' and 64 hex digits (what 'agent-engine mcp lock' writes), "
                        f"not {pin!r}")
    timeout = config.get("connect_timeout_s", DEFAULT_CONNECT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ToolError(f"config.connect_timeout_s must be a number of seconds > 0, not {timeout!r}")
    return ServerConfig(
        command=command, args=tuple(_strings(config.get("args", ()), "args")),
        env=read.values(config.get("env", {}), "env"), cwd=folder, url=url,
        headers=read.values(config.get("headers", {}), "headers"), tools=_allow_list(config.get("tools")),
        pin=pin, connect_timeout_s=float(timeout),
    )


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ToolError(f"config.{where} must be a non-empty string, not {value!r}")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ToolError(f"config.{where} must be a list of strings, not {value!r}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ToolError(f"config.{where}[{index}] must be a string, not {item!r}")
    return list(value)


def _allow_list(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = _strings(value, "tools")
    for index, name in enumerate(names):
        if not TOOL_NAME.match(name):
            raise ToolError(f"config.tools[{index}]: '{name}' cannot be part of a tool id (letters, digits, "
                            "'_', '.', '-')")
        if name in names[:index]:
            raise ToolError(f"config.tools[{index}]: '{name}' is listed twice")
    return tuple(names)


class _Reader:
    """Reads ``env``/``headers`` values, credentials through the engine's resolver."""

    def __init__(self, credential: Callable[[str], Secret] | None, resolve: bool) -> None:
        self._credential, self._resolve = credential, resolve

    def values(self, given: Any, where: str) -> Mapping[str, Value]:
        if not isinstance(given, Mapping):
            raise ToolError(f"config.{where} must map names to values, not {given!r}")
        found: dict[str, Value] = {}
        for name, value in given.items():
            if not isinstance(name, str) or not name:
                raise ToolError(f"config.{where} has a name that is not a string: {name!r}")
            read = self._value(value, f"{where}.{name}")
            if read is not None:  # None: a credential left unread, for an engine that will not reach the server
                found[name] = read
        return found

    def _value(self, value: Any, where: str) -> Value | None:
        if isinstance(value, str):
            return value
        if not isinstance(value, Mapping) or "credential" not in value or set(value) - {"credential", "prefix"}:
            raise ToolError(f"config.{where} must be a string or {{credential: <provider_credentials id>}} "
                            f"(optionally with prefix), not {value!r}")
        credential_id = _string(value["credential"], f"{where}.credential")
        prefix = value.get("prefix", "")
        if not isinstance(prefix, str):
            raise ToolError(f"config.{where}.prefix must be a string, not {prefix!r}")
        if not self._resolve:
            return None
        if self._credential is None:
            raise ToolError(f"config.{where} names credential '{credential_id}', but this engine reads no "
                            "provider_credentials.yaml")
        return SecretValue(credential_id, self._credential(credential_id), prefix)
