"""JSON encoding shared by records, traces and the CLI.

Node inputs and outputs are kept as JSON text from the moment a stage ends: the text is immutable, so nothing
a handler does to its objects afterwards can change the history, and it is the canonical trace's raw material.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JSONValueError", "dumps", "loads"]

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
loads = json.loads


class JSONValueError(ValueError):
    """A value that is not plain JSON (a set, an object, NaN...) where the engine needs one."""


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``; raises ``JSONValueError`` for anything JSON cannot represent."""
    try:
        text = _encoder.encode(value)
        if not text.isascii():
            text.encode()  # a lone surrogate would make the canonical trace unencodable: refuse it here
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise JSONValueError(str(exc)) from None
    return text
