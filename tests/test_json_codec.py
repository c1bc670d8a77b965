"""The engine's JSON codec writes exactly the standard library's text, and refuses exactly what it refuses.

The canonical trace (and so every digest) is made of this text: a faster encoder must not change one byte.
"""

from __future__ import annotations

import json
import math
import uuid
from enum import Enum, IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent_engine_core.codec import JSONValueError, dumps, loads


def _reference(value: Any) -> str:
    """The text the engine has always written: the standard library's, with the rules of docs/DECISIONS.md.

    Read-only views are written as their mappings, ``Enum`` members as their value and ``UUID`` as its string;
    integers beyond 64 bits and lone surrogates are refused.
    """

    def default(obj: Any) -> Any:
        if isinstance(obj, MappingProxyType):
            return dict(obj)
        if isinstance(obj, Enum):
            return obj.value
        if isinstance(obj, uuid.UUID):
            return str(obj)
        raise TypeError(type(obj).__name__)

    def check(obj: Any) -> None:
        if isinstance(obj, int) and not isinstance(obj, bool) and not -(2**63) <= obj < 2**64:
            raise ValueError("integer beyond 64 bits")
        if isinstance(obj, dict | MappingProxyType):
            for item in obj.values():  # keys are written as strings: a large integer key loses nothing
                check(item)
        elif isinstance(obj, list | tuple):
            for item in obj:
                check(item)

    check(value)
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=default)
    text.encode()  # lone surrogates are refused
    return text


class Colour(StrEnum):
    RED = "red"


class Size(IntEnum):
    BIG = 7


class Plain(Enum):
    A = "a"


class Tagged(str):
    def __str__(self) -> str:
        return "not the characters"


scalars = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**63 - 3, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text() | st.sampled_from(
        [1e-7, 1e-5, 1e16, 5e-324, -0.0, 1.7976931348623157e308, "e-", "null", "\x00\x1f\x7f\u2028\ud800"])
    | st.sampled_from([Colour.RED, Size.BIG, Tagged("abc"), True, False, Plain.A, uuid.UUID(int=7)])
)
keys = st.text() | st.integers() | st.sampled_from([None, True, 1.5, Colour.RED])
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5)
    | st.lists(inner, max_size=3).map(tuple) | st.dictionaries(st.text(), inner, max_size=3).map(MappingProxyType),
    max_leaves=25,
)


@settings(max_examples=1500)
@given(values)
@example({"null": None, None: None})  # two keys that the standard library writes as one name, twice
@example({"big": 2**64, 1: 0})  # orjson refuses the key; the integer is refused, not rounded
def test_dumps_writes_the_standard_librarys_bytes_or_refuses_what_it_refuses(value: Any) -> None:
    try:
        expected = _reference(value)
    except (TypeError, ValueError):
        with pytest.raises(JSONValueError):
            dumps(value)
        return
    assert dumps(value) == expected


@settings(max_examples=1500)
@given(values)
def test_loads_reads_what_the_standard_library_reads(value: Any) -> None:
    try:
        text = _reference(value)
    except (TypeError, ValueError):
        return
    decoded = loads(text)
    assert decoded == json.loads(text)
    assert dumps(decoded) == _reference(json.loads(text))


@pytest.mark.parametrize("value", [math.nan, [math.inf], {"a": -math.inf}, {1, 2}, object(), 2**64,
                                   {"x": b"bytes"}, {"nested": [{"deep": {"set"}}]}])
def test_values_that_are_not_json_are_refused(value: Any) -> None:
    with pytest.raises(JSONValueError):
        dumps(value)


def test_read_only_views_the_engine_hands_out_encode_as_their_contents() -> None:
    view = MappingProxyType({"a": (1, MappingProxyType({"b": None}))})
    assert dumps(view) == '{"a":[1,{"b":null}]}'


def test_subclasses_are_written_as_their_plain_value() -> None:
    assert dumps({"c": Colour.RED, "s": Size.BIG, "t": Tagged("abc")}) == '{"c":"red","s":7,"t":"abc"}'


def test_integers_beyond_64_bits_are_refused_rather_than_read_back_as_floats() -> None:
    assert loads(dumps(2**64 - 1)) == 2**64 - 1
    assert loads(dumps(-(2**63))) == -(2**63)
    for big in (2**64, -(2**63) - 1, 10**30):
        with pytest.raises(JSONValueError, match="64 bits"):
            dumps({"id": big})
