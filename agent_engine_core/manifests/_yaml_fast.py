"""A fast YAML reader for plain manifests: libyaml's event stream turned straight into Python data.

PyYAML's own constructor spends most of a large manifest's load time building and walking node objects. Plain
manifests (no anchors, aliases, merge keys, explicit tags or duplicate keys) need none of that, so this reader
builds dicts, lists and scalars directly from the C parser's events, resolving plain scalars with PyYAML's own
implicit resolvers and constructors, so the result is the one ``yaml.safe_load`` gives. Anything outside that
subset returns ``None`` and the caller uses the full composer, which also reports precise locations.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

__all__ = ["fast_load"]



def _c_parser() -> Any:
    try:
        from yaml._yaml import CParser  # noqa: PLC0415 - optional: PyYAML may be built without libyaml
    except ImportError:  # then the composer path is the only one
        return None
    return CParser


CParser = _c_parser()

_STR = "tag:yaml.org,2002:str"
_IMPLICIT = Resolver.yaml_implicit_resolvers
_constructor = SafeConstructor()
_CONSTRUCT = {
    "tag:yaml.org,2002:null": _constructor.construct_yaml_null,
    "tag:yaml.org,2002:bool": _constructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": _constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _constructor.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": _constructor.construct_yaml_timestamp,
}


class _Unsupported(Exception):
    """The document uses a feature this reader leaves to the full composer."""


def _plain(value: str) -> Any:
    for tag, pattern in _IMPLICIT.get(value[:1] if value else "", ()):
        if pattern.match(value):
            construct = _CONSTRUCT.get(tag)
            if construct is None:  # merge keys, '=' values: not plain data
                raise _Unsupported(tag)
            return construct(ScalarNode(tag, value))
    return value


def fast_load(text: str) -> tuple[bool, Any]:
    """``(True, data)`` for a plain single-document manifest, ``(False, None)`` when the composer must decide."""
    if CParser is None:
        return False, None
    try:
        return True, _build(CParser(text))
    except Exception:  # anything unusual (features, syntax, unbuildable values) is the composer's to report
        return False, None


def _build(parser: Any) -> Any:  # noqa: C901, PLR0912, PLR0915 - one flat dispatch over event types reads best
    stack: list[Any] = []
    keys: list[Any] = []
    root: Any = None
    documents = 0
    while True:
        event = parser.get_event()
        kind = type(event)
        if kind is yaml.ScalarEvent:
            if event.anchor is not None:
                raise _Unsupported("anchor")
            if event.implicit[0]:
                value: Any = _plain(event.value)
            elif event.tag in (None, "!", _STR) or event.implicit[1]:
                value = event.value
            else:
                raise _Unsupported("tag")
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            if event.anchor is not None or (event.tag is not None and not event.implicit):
                raise _Unsupported("anchor or tag")
            container: Any = {} if kind is yaml.MappingStartEvent else []
            if stack and isinstance(stack[-1], dict) and keys[-1] is _NO_KEY:
                raise _Unsupported("complex key")
            stack.append(container)
            keys.append(_NO_KEY)
            continue
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            keys.pop()
            value = stack.pop()
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Unsupported("several documents")
            continue
        elif kind is yaml.StreamEndEvent:
            return root
        elif kind is yaml.AliasEvent:
            raise _Unsupported("alias")
        else:
            continue
        if not stack:
            root = value
            continue
        parent = stack[-1]
        if type(parent) is list:
            parent.append(value)
        elif keys[-1] is _NO_KEY:
            if value in parent or not isinstance(value, str | int | float | bool | None):
                raise _Unsupported("duplicate or non-scalar key")
            keys[-1] = value
        else:
            parent[keys[-1]] = value
            keys[-1] = _NO_KEY


_NO_KEY = object()
