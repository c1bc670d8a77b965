"""Pins and the lock file: ``mcp.lock.json`` beside tools.yaml, and the ``pin:`` of each entry in tools.yaml.

``agent-engine mcp lock DIR`` lists every mcp entry's server and writes both: the pin (the listing's hash) into
the entry's ``config:`` -- the one value a reviewer sees change in tools.yaml -- and the listing itself into
``mcp.lock.json``, keyed by entry id. The lock file is what a changed pin is compared with (so the error
shows what changed, not only that something did) and what an engine built for a replay describes the tools
from, so a replay needs no server. A listing is used only when it hashes to the pin tools.yaml holds.

tools.yaml is edited as text, not re-dumped: comments, order and quoting stay as they were; a ``pin:`` value
is replaced where it is, or the key is added to the entry's ``config`` (at its end for a flow mapping, before
its first key for a block one). The result is parsed again and checked before it is written.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from agent_engine_mcp._listing import Listing

__all__ = ["LOCK_FILE", "LockError", "locked_listing", "pin_entries", "read_lock", "write_lock", "write_text"]

LOCK_FILE = "mcp.lock.json"
LOCK_VERSION = 1


class LockError(ValueError):
    """The lock file or tools.yaml cannot be read or written as needed; the message locates the problem."""


def read_lock(project_dir: Path) -> dict[str, Listing]:
    """The listings in ``project_dir/mcp.lock.json`` by entry id (empty when there is no lock file)."""
    path = project_dir / LOCK_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LockError(f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg}); run 'agent-engine mcp lock' "
                        "to write it again") from None
    servers = data.get("servers") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("lock_version") != LOCK_VERSION or not isinstance(servers, dict):
        raise LockError(f"{path}: not an mcp lock file of version {LOCK_VERSION} (an object with lock_version and "
                        "servers); run 'agent-engine mcp lock' to write it again")
    found = {}
    for entry_id, document in servers.items():
        try:
            found[entry_id] = Listing.from_document(document.get("listing") if isinstance(document, dict) else None)
        except ValueError as exc:
            raise LockError(f"{path}: servers.{entry_id}: {exc}") from None
    return found


def locked_listing(project_dir: Path | None, entry_id: str, pin: str | None) -> Listing | None:
    """The lock file's listing of ``entry_id`` when it hashes to ``pin``; ``None`` otherwise."""
    if project_dir is None or pin is None:
        return None
    listing = read_lock(project_dir).get(entry_id)
    return listing if listing is not None and listing.pin == pin else None


def write_lock(project_dir: Path, listings: Mapping[str, Listing]) -> Path:
    """Write ``mcp.lock.json`` holding exactly ``listings`` (sorted by entry id), atomically."""
    document = {"lock_version": LOCK_VERSION, "servers": {
        entry_id: {"pin": listings[entry_id].pin, "listing": listings[entry_id].to_document()}
        for entry_id in sorted(listings)}}
    path = project_dir / LOCK_FILE
    write_text(path, json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path


def write_text(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it over ``path``: a reader never sees half a file."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                     delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


def pin_entries(text: str, pins: Mapping[int, str], file: str = "tools.yaml") -> str:
    """``text`` (a tools.yaml) with ``config.pin`` of entry ``position`` set to ``pins[position]``, for each."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise LockError(f"{file}: not YAML ({exc})") from None
    edits: list[tuple[int, int, str]] = []
    for position, pin in pins.items():
        config = _node(_node(_node(root, "tools"), position), "config")
        if not isinstance(config, yaml.MappingNode):
            raise LockError(f"{file}: tools[{position}] has no config mapping to put the pin in")
        quoted = json.dumps(pin)
        current = _node(config, "pin")
        if current is not None:
            edits.append((current.start_mark.index, current.end_mark.index, quoted))
        elif config.flow_style:
            end = config.end_mark.index - 1  # the closing brace
            edits.append((end, end, f"{', ' if config.value else ''}pin: {quoted}"))
        elif config.value:
            first = config.value[0][0].start_mark
            edits.append((first.index, first.index, f"pin: {quoted}\n{' ' * first.column}"))
        else:
            raise LockError(f"{file}: tools[{position}].config is empty; write it as a mapping first")
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    _check_pins(text, pins, file)
    return text


def _node(node: Any, step: str | int) -> Any:
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        return next((value for key, value in reversed(node.value) if key.value == step), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]
    return None


def _check_pins(text: str, pins: Mapping[int, str], file: str) -> None:
    """Refuse an edit that did not give exactly the pins asked for (tools.yaml is then left as it was)."""
    try:
        entries = yaml.safe_load(text)["tools"]
        found = {position: entries[position]["config"]["pin"] for position in pins}
    except (yaml.YAMLError, KeyError, TypeError, IndexError) as exc:
        raise LockError(f"{file}: could not add the pins without breaking the file ({exc}); add them by hand: "
                        + ", ".join(f"tools[{p}].config.pin: {pin}" for p, pin in pins.items())) from None
    if found != dict(pins):
        raise LockError(f"{file}: the pins did not land where they belong; add them by hand")
