"""The fast YAML reader gives exactly what ``yaml.safe_load`` gives, or leave the text to the full composer.

Hypothesis writes data out in every style PyYAML dumps (block, flow, quoted, unicode, explicit document
markers), which the readers must take, and assembles text from YAML's special fragments (anchors, aliases,
tags, merge keys, complex and duplicate keys, several documents, values that resolve to other types or that
cannot be constructed), which they may refuse. Whatever a reader accepts must equal
``safe_load``'s result exactly, types and key order included. ``safe_load`` runs on libyaml
(``CSafeLoader``), the parser of the event reader and of the engine's full composer: PyYAML's pure-Python
scanner disagrees with it on a few texts (a trailing tab, an empty ``!`` node), which is no matter of these
readers.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_core.manifests._yaml_fast import CParser, fast_load

pytestmark = pytest.mark.skipif(CParser is None, reason="PyYAML is built without libyaml")

CHECK = settings(max_examples=300, deadline=None)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def _hashable(value: Any) -> bool:
    return not (isinstance(value, float) and math.isnan(value))


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.dates()
    | st.sampled_from(
        [
            "yes",
            "No",
            "~",
            "null",
            "0x1F",
            "0o17",
            "1_000",
            "1e3",
            ".inf",
            "-.nan",
            "2001-12-14",
            "2001-12-14 21:59:43.10 -5",
            "=",
            "<<",
            "",
            " ",
            "a: b",
            "- x",
            "# c",
            "'q'",
            "1.0",
        ]
    )
)
data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(scalars.filter(_hashable), inner, max_size=4),
    max_leaves=20,
)
dump_options = st.fixed_dictionaries(
    {
        "default_flow_style": st.sampled_from([False, True, None]),
        "allow_unicode": st.booleans(),
        "sort_keys": st.booleans(),
        "explicit_start": st.booleans(),
        "explicit_end": st.booleans(),
        "indent": st.integers(2, 5),
        "width": st.sampled_from([20, 80]),
    }
)
FRAGMENTS = [
    "a",
    "b",
    "id",
    "from",
    "to",
    "nodes",
    "yes",
    "1",
    "1.5",
    ".nan",
    "~",
    "",
    "2001-01-01",
    "2001-13-45",
    "0x1F",
    ": ",
    ":",
    "- ",
    "-",
    "\n",
    "\n  ",
    "\n- ",
    " ",
    "&x ",
    "*x",
    "!!str ",
    "!!int ",
    "!!python/name:os.system ",
    "!foo ",
    "! ",
    "? ",
    "<<: ",
    "=",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "'",
    '"',
    "# c",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "\t",
    "|\n  x\n",
    ">-\n  y\n",
    "\\",
    "\u00e9",
    "\x00",
]
texts = st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join)
def _same(fast: Any, slow: Any) -> bool:
    """Equal and of the same types all the way down, mapping order included (NaN equals NaN)."""
    if type(fast) is not type(slow):
        return False
    if isinstance(fast, dict):
        return len(fast) == len(slow) and all(
            _same(k1, k2) and _same(v1, v2) for (k1, v1), (k2, v2) in zip(fast.items(), slow.items(), strict=True)
        )
    if isinstance(fast, list):
        return len(fast) == len(slow) and all(_same(a, b) for a, b in zip(fast, slow, strict=True))
    if isinstance(fast, float) and math.isnan(fast):
        return math.isnan(slow)
    return bool(fast == slow)


@CHECK
@given(data, dump_options)
def test_dumped_data_is_read_as_safe_load_reads_it(value: Any, options: dict[str, Any]) -> None:
    text = yaml.safe_dump(value, **options)
    plain, fast = fast_load(text)
    expected = safe_load(text)
    if plain:
        assert _same(fast, expected)
    else:  # the one thing a dump holds that the reader leaves to the composer: a date as a key
        assert any(isinstance(k, datetime.date) for k in _keys(expected))


@CHECK
@given(texts)
def test_any_text_is_read_as_safe_load_reads_it_or_left_to_the_composer(text: str) -> None:
    plain, fast = fast_load(text)
    try:
        expected = safe_load(text)
    except Exception:  # a text safe_load refuses must be refused, the composer reports it with its location
        assert not plain
        return
    if plain:
        assert _same(fast, expected)


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: !foo x\n",
        "? [a]\n: b\n",
        "a: 1\na: 2\n",
        "<<: {a: 1}\n",
        "--- 1\n--- 2\n",
        "a: 2001-13-45\n",
        "a: =\n",
        "{a: 1, a: 2}\n",
        *(f"{'k' * n}: v\n" for n in (1024, 1025)),
        *(f"- '{'k' * n}': v\n" for n in (1022, 1023)),
    ],
)
def test_unusual_features_fall_back_or_match(text: str) -> None:
    plain, fast = fast_load(text)
    try:
        expected = safe_load(text)
    except Exception:
        assert not plain
        return
    assert not plain or _same(fast, expected)


def test_plain_scalars_resolve_like_safe_load_each_time_they_repeat() -> None:
    text = "- yes\n- yes\n- null\n- null\n- 010\n- 010\n- nodes\n- nodes\n- 1.0\n- '1.0'\n- 1.0\n"
    plain, fast = fast_load(text)
    assert plain and _same(fast, safe_load(text))


def _keys(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []
