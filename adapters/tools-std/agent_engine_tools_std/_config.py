"""A tools.yaml entry's ``config``: each tool type declares its keys; anything else is a load-time error."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agent_engine_core.errors import ToolError

__all__ = ["Option", "read_config"]

Kind = Literal["int", "number", "bool", "str", "str_list"]

_KIND_NAMES = {
    "int": "an integer",
    "number": "a number",
    "bool": "true or false",
    "str": "a string",
    "str_list": "a list of strings",
}


@dataclass(frozen=True, slots=True)
class Option:
    """One accepted config key: its kind, its default (``None``: unset) and, for numbers, its minimum."""

    kind: Kind
    default: Any = None
    minimum: float | None = None


def read_config(tool_type: str, config: Mapping[str, Any], options: Mapping[str, Option]) -> dict[str, Any]:
    """Every option's value (given or default); raises ``ToolError`` naming an unknown key or a bad value."""
    for key in sorted(set(config) - set(options)):
        near = difflib.get_close_matches(key, list(options), n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        accepted = ", ".join(sorted(options)) or "none"
        raise ToolError(f"{tool_type} has no config key '{key}'{hint}; accepted keys: {accepted}")
    values: dict[str, Any] = {}
    for name, option in options.items():
        value = config.get(name, option.default)
        if value is not None and not _fits(value, option):
            expected = _KIND_NAMES[option.kind]
            if option.minimum is not None:
                expected += f" >= {option.minimum:g}"
            raise ToolError(f"config.{name} of {tool_type} must be {expected}, not {value!r}")
        values[name] = value
    return values


def _fits(value: Any, option: Option) -> bool:
    if option.kind == "bool":
        return isinstance(value, bool)
    if option.kind == "str":
        return isinstance(value, str)
    if option.kind == "str_list":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if option.kind == "int" and not isinstance(value, int):
        return False
    return option.minimum is None or value >= option.minimum
