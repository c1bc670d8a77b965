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


CParser: Any = getattr(yaml, "CBaseLoader", None)
"""libyaml's parser through PyYAML's public ``CBaseLoader`` (a ``CParser``); ``None`` when PyYAML is built without
libyaml, and then the composer path is the only one."""

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
    """The document's data, from one pass over the events; raises on anything outside the plain subset.

    Most scalars of a large manifest are a few keys and values over and over (``id``, ``from``, ``linear``),
    so a plain scalar once found to stay a string is not run through the resolvers again.
    """
    get_event = parser.get_event
    strings: set[str] = set()  # plain scalars of this document that no implicit resolver turns into a value
    stack: list[tuple[Any, Any]] = []  # the enclosing containers, each with its pending key
    container: Any = None  # the innermost open dict or list; None at the top level
    key: Any = _NO_KEY  # the key read in ``container`` and waiting for its value
    root: Any = None
    documents = 0
    while True:
        event = get_event()
        kind = type(event)
        if kind is _ScalarEvent:
            if event.anchor is not None:
                raise _Unsupported("anchor")
            if event.implicit[0]:
                value: Any = event.value
                if value not in strings:
                    text = value
                    value = _plain(text)
                    if value is text:
                        strings.add(text)
            elif event.tag in (None, "!", _STR) or event.implicit[1]:
                value = event.value
            else:
                raise _Unsupported("tag")
        elif kind is _MappingStartEvent or kind is _SequenceStartEvent:
            if event.anchor is not None or (event.tag is not None and not event.implicit):
                raise _Unsupported("anchor or tag")
            if key is _NO_KEY and type(container) is dict:
                raise _Unsupported("complex key")
            stack.append((container, key))
            container = {} if kind is _MappingStartEvent else []
            key = _NO_KEY
            continue
        elif kind is _MappingEndEvent or kind is _SequenceEndEvent:
            value = container
            container, key = stack.pop()
        elif kind is _DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Unsupported("several documents")
            continue
        elif kind is _StreamEndEvent:
            return root
        elif kind is _AliasEvent:
            raise _Unsupported("alias")
        else:
            continue
        if container is None:
            root = value
        elif type(container) is list:
            container.append(value)
        elif key is _NO_KEY:
            if value in container or not isinstance(value, _KEY_TYPES):
                raise _Unsupported("duplicate or non-scalar key")
            key = value
        else:
            container[key] = value
            key = _NO_KEY


_NO_KEY = object()
_KEY_TYPES = (str, int, float, bool, type(None))
# bound once, as ``_build`` checks the type of every event against them
_ScalarEvent = yaml.ScalarEvent
_MappingStartEvent = yaml.MappingStartEvent
_MappingEndEvent = yaml.MappingEndEvent
_SequenceStartEvent = yaml.SequenceStartEvent
_SequenceEndEvent = yaml.SequenceEndEvent
_DocumentStartEvent = yaml.DocumentStartEvent
_StreamEndEvent = yaml.StreamEndEvent
_AliasEvent = yaml.AliasEvent
