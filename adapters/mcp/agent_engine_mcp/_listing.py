"""What a server says of itself, and its pin: ``serverInfo``, the protocol version and the sorted tool list.

The pin is ``sha256:`` and the SHA-256 of that document as canonical JSON (sorted keys, no spaces, UTF-8), so a
server that renames, adds, removes or re-describes a tool, changes a schema, upgrades itself or speaks another
protocol version gets another pin, and the same listing in any order gets the same one. Of each tool the pin
covers what the engine uses: its name, description and input and output schemas.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["TOOL_FIELDS", "Listing", "canonical"]

TOOL_FIELDS = ("name", "description", "inputSchema", "outputSchema")
"""What of a tool is pinned (as the protocol spells it); the rest (icons, annotations, _meta) is not used."""

_SHOWN = 160
"""How much of a changed value a diff line quotes."""


def canonical(value: Any) -> str:
    """JSON with sorted keys and no spaces: the text a pin is the hash of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Listing:
    """A server's identity and its tools (each a mapping of ``TOOL_FIELDS``), sorted by name."""

    server_info: Mapping[str, Any]
    protocol_version: str
    tools: tuple[Mapping[str, Any], ...]

    @classmethod
    def of(cls, server_info: Mapping[str, Any], protocol_version: str, tools: Sequence[Mapping[str, Any]]) -> Listing:
        """The listing of these tools (as the protocol spells their fields), whatever order they came in."""
        kept = [{key: tool[key] for key in TOOL_FIELDS if tool.get(key) is not None} for tool in tools]
        return cls(dict(server_info), protocol_version, tuple(sorted(kept, key=lambda t: str(t["name"]))))

    @classmethod
    def from_document(cls, document: Any) -> Listing:
        """The listing a lock file holds (``to_document``); ``ValueError`` when it is not one."""
        if not isinstance(document, Mapping):
            raise ValueError("a listing is an object")
        info, version, tools = document.get("serverInfo"), document.get("protocolVersion"), document.get("tools")
        if not isinstance(info, Mapping) or not isinstance(version, str) or not isinstance(tools, list) or not all(
                isinstance(t, Mapping) and isinstance(t.get("name"), str) for t in tools):
            raise ValueError("a listing has serverInfo (an object), protocolVersion (a string) and tools (a list "
                             "of objects with a name)")
        return cls.of(info, version, tools)

    def to_document(self) -> dict[str, Any]:
        """The JSON document the pin is the hash of (and that a lock file keeps)."""
        return {"serverInfo": dict(self.server_info), "protocolVersion": self.protocol_version,
                "tools": [dict(t) for t in self.tools]}

    @property
    def pin(self) -> str:
        """``sha256:<hex>`` of the canonical document."""
        return "sha256:" + hashlib.sha256(canonical(self.to_document()).encode("utf-8")).hexdigest()

    @property
    def server(self) -> str:
        """``name version`` of the server, as results record it."""
        return " ".join(str(self.server_info.get(k)) for k in ("name", "version") if self.server_info.get(k))

    def tool(self, name: str) -> Mapping[str, Any] | None:
        """The tool named ``name``, if the server lists one."""
        return next((t for t in self.tools if t["name"] == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        """The tool names, sorted."""
        return tuple(str(t["name"]) for t in self.tools)

    def diff(self, before: Listing) -> list[str]:
        """What changed from ``before`` to this listing, one line per difference (empty when they are equal)."""
        lines = [f"server {key}: {_shown(before.server_info.get(key))} -> {_shown(self.server_info.get(key))}"
                 for key in sorted({*before.server_info, *self.server_info})
                 if before.server_info.get(key) != self.server_info.get(key)]
        if before.protocol_version != self.protocol_version:
            lines.append(f"protocol version: {before.protocol_version} -> {self.protocol_version}")
        for name in sorted({*before.names, *self.names}):
            old, new = before.tool(name), self.tool(name)
            if old is None:
                lines.append(f"+ tool '{name}' (added)")
            elif new is None:
                lines.append(f"- tool '{name}' (removed)")
            else:
                lines.extend(f"~ tool '{name}' {key}: {_shown(old.get(key))} -> {_shown(new.get(key))}"
                             for key in TOOL_FIELDS if old.get(key) != new.get(key))
        return lines


def _shown(value: Any) -> str:
    text = "(none)" if value is None else canonical(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
