"""JSON encoding shared by records, traces and the CLI.

Node inputs and outputs are kept as JSON text from the moment a stage ends: the text is immutable, so nothing
a handler does to its objects afterwards can change the history, and it is the canonical trace's raw material.

Every stage encodes its output and decodes its input, so the codec is on the hot path and its cost grows with
the payload. orjson does both in a fraction of the standard library's time; the standard library stays the
*definition* of the text. Where the two could differ, ``dumps`` takes the standard library's answer:

- orjson refuses what it does not know natively (non-``str`` keys, integers beyond 64 bits, lone surrogates,
  dataclasses, datetimes) and the standard library then decides — coercing keys as it always did, or
  refusing the value;
- subclasses of ``dict``/``list``/``str``/``int``/``float`` reach ``_plain``, which hands orjson the plain
  value the standard library would have written;
- orjson writes NaN and infinities as ``null``: text containing ``null`` is checked by decoding it again and
  comparing with the value (C-speed), and a mismatch goes to the standard library, which refuses the value;
- orjson writes floats below 1e-4 differently (``0.00001``, ``1e-7``) from the standard library (``1e-05``,
  ``1e-07``): text containing ``e-`` or ``0.0000`` is re-encoded by the standard library.

Two rules follow from orjson and are documented in ``docs/DECISIONS.md``: integers must fit in 64 bits
(orjson would read a larger one back as a float, so the engine refuses it rather than lose digits), and the
values orjson writes natively beyond plain JSON — ``enum.Enum`` members and ``uuid.UUID`` — are accepted as
their value and their string.

``tests/test_json_codec.py`` holds the two to the same bytes (or the same refusal) for generated values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any
from uuid import UUID

import orjson

from agent_engine_core.errors import JSONValueError

__all__ = ["JSONValueError", "compose", "dumps", "embed", "loads", "plain"]


def _json_like(value: Any) -> Any:
    """Read-only views the engine hands handlers (``ctx.context``) are JSON too; so is what orjson writes natively."""
    if isinstance(value, MappingProxyType):
        return dict(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_PLAIN: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (dict, dict), (list, list), (str, str.__str__), (int, int.__int__), (float, float.__float__),
)
"""How the standard library writes a subclass of each JSON type: as the plain value (``__str__``, ``__int__`` and
``__float__`` of the base class give the characters and the number themselves, whatever the subclass says)."""


def _plain(value: Any) -> Any:
    """The plain value the standard library writes for a subclass of a JSON type (``StrEnum``, ``IntEnum``)."""
    for base, convert in _PLAIN:
        if isinstance(value, base):
            return convert(value)
    return _json_like(value)


_reference = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_json_like)
_OPTIONS = orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps(value: Any, *, floats: bool = True) -> str:
    """Compact JSON text of ``value``; raises ``JSONValueError`` for anything JSON cannot represent.

    ``floats=False`` says the caller knows ``value`` holds plain JSON types and no float: the two codecs then
    write the same text, and the searches of the text for floats and NaN are skipped.
    """
    try:
        data = orjson.dumps(value, default=_plain, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: let the standard library decide
        return _dumps_reference(value)
    if floats and (_may_differ(data) or (b"null" in data and orjson.loads(data) != value)):
        return _dumps_reference(value)
    return data.decode()


def _may_differ(data: bytes) -> bool:
    """True when orjson's text may hold a float below 1e-4, which it writes unlike the standard library.

    A one-byte search (memchr) rules most text out before the slower searches for ``e-`` and ``0.0000``.
    """
    return (b"-" in data and b"e-" in data) or (b"." in data and b"0.0000" in data)


def _dumps_reference(value: Any) -> str:
    try:
        text = _reference.encode(value)
        if not text.isascii():
            text.encode()  # a lone surrogate would make the canonical trace unencodable: refuse it here
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        raise JSONValueError(str(exc)) from None
    if _has_wide_integer(value):
        raise JSONValueError("an integer does not fit in 64 bits (-2**63 to 2**64 - 1)")
    return text


def _has_wide_integer(value: Any) -> bool:
    """True when ``value`` holds an integer that orjson would read back as a float (keys are written as text)."""
    if isinstance(value, int):
        return not isinstance(value, bool) and not -(2**63) <= value < 2**64
    if isinstance(value, dict | MappingProxyType):
        return any(_has_wide_integer(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_wide_integer(item) for item in value)
    return False


def loads(text: str | bytes) -> Any:
    """The value of JSON ``text`` that ``dumps`` wrote (what ``json.loads`` returns, faster).

    Text from elsewhere (a recording, a user's file) is read with ``json.loads``: orjson reads an integer
    beyond 64 bits as a float, and ``dumps`` then refuses it instead of the digits being lost unseen.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # integers beyond 64 bits, NaN literals, lone surrogate escapes
        return json.loads(text)


def plain(value: Any) -> Any:
    """Plain dicts and lists from read-only mappings and tuples, all the way down (for JSON output)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return value


def embed(text: str) -> Any:
    """JSON text already written by ``dumps``, to be placed as it is inside a value given to ``compose``."""
    return orjson.Fragment(text)


def compose(value: Any) -> str:
    """JSON text of plain JSON data with ``embed``-ded texts inside, which are copied, never decoded.

    For documents that are stored and read back rather than hashed (the run store): the texts are written by
    ``dumps`` already, and floats (timings) may be spelled as orjson spells them.
    """
    return orjson.dumps(value).decode()

