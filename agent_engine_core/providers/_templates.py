"""Templates in scripted answers: ``{{ input.request | sentence }}`` filled in from the request at call time.

A scripted agent is a declared stand-in for a model; templates let its answers follow the node's input (and
the results of the tools it called) instead of being one constant, so an offline demo drafts a document from
the instruction it was given. The language is deliberately small: a dotted path into the request, then
filters, each without arguments.

- The path starts at ``node`` (the node id), ``input`` (the node input), ``context`` (the assembled context
  entries) or ``tools`` (``tools.<name>.arguments``, ``.status``, ``.output``, ``.error``: the latest call
  of that tool in this node's call). A segment is a key, or a list index (``sections.0``).
- A string that is exactly one ``{{ ... }}`` becomes the value itself (a number stays a number, a list a
  list); inside other text a value is written as itself when it is a string, ``""`` when null, else as JSON.
- A path that leads nowhere fails the call, naming the template and the missing part; that and a template that
  cannot be compiled are ``ValueError``s, which the provider reports as its own error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_engine_core.codec import dumps

__all__ = ["FILTERS", "Template", "compile_answer", "render_answer"]

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$|^\d+$")
_WORD = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")  # an apostrophe (' or U+2019) or a hyphen joins
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
ROOTS = ("node", "input", "context", "tools")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return dumps(value)


def _sentence(value: Any) -> str:
    """First letter upper case, ending with ``.``, ``!`` or ``?`` (an instruction read as a sentence)."""
    text = _text(value).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


FILTERS: Mapping[str, Callable[[Any], Any]] = {
    "words": lambda v: len(_WORD.findall(_text(v))),
    "chars": lambda v: len(_text(v)),
    "lines": lambda v: len(_text(v).splitlines()),
    "count": lambda v: len(v) if isinstance(v, str | list | tuple | Mapping) else 0 if v is None else 1,
    "headings": lambda v: [m.group(2) for m in _HEADING.finditer(_text(v))],
    "sections": lambda v: [m.group(2) for m in _HEADING.finditer(_text(v)) if len(m.group(1)) > 1],
    "lower": lambda v: _text(v).lower(),
    "upper": lambda v: _text(v).upper(),
    "title": lambda v: _text(v).title(),
    "strip": lambda v: _text(v).strip(),
    "sentence": _sentence,
    "json": dumps,
}
"""What each filter makes of a value. ``words`` counts runs of letters and digits, so Markdown markup (``#``,
``-``, ``*``) is not counted; ``headings`` lists the text of each ATX heading (``# Title``), in order, and
``sections`` those below the title (``##`` and deeper)."""


@dataclass(frozen=True, slots=True)
class _Expression:
    source: str
    path: tuple[str, ...]
    filters: tuple[str, ...]

    def value(self, scope: Mapping[str, Any]) -> Any:
        current: Any = scope
        for depth, part in enumerate(self.path):
            current = _step(current, part, self.path[:depth], self.source)
        for name in self.filters:
            current = FILTERS[name](current)
        return current


def _step(value: Any, part: str, before: Sequence[str], source: str) -> Any:
    where = ".".join(before) or "the request"
    if isinstance(value, Mapping) and part in value:
        return value[part]
    if isinstance(value, Sequence) and not isinstance(value, str) and part.isdigit() and int(part) < len(value):
        return value[int(part)]
    if isinstance(value, Mapping):
        keys = ", ".join(sorted(map(str, value))) or "none"
        raise ValueError(f"{{{{{source}}}}}: {where} has no '{part}' (it has: {keys})")
    raise ValueError(f"{{{{{source}}}}}: {where} is {_kind(value)}, which has no '{part}'")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Sequence):
        return f"a list of {len(value)}"
    return f"a {type(value).__name__}"


def _expression(source: str) -> _Expression:
    path_text, *filters = (part.strip() for part in source.split("|"))
    path = tuple(path_text.split(".")) if path_text else ()
    if not path or not all(_SEGMENT.match(p) for p in path):
        raise ValueError(f"{{{{{source}}}}}: '{path_text}' is not a path like input.request")
    if path[0] not in ROOTS:
        raise ValueError(f"{{{{{source}}}}}: a path starts at one of {', '.join(ROOTS)}, not '{path[0]}'")
    unknown = [f for f in filters if f not in FILTERS]
    if unknown:
        raise ValueError(f"{{{{{source}}}}}: unknown filter '{unknown[0]}' (filters: {', '.join(FILTERS)})")
    return _Expression(source.strip(), path, tuple(filters))


@dataclass(frozen=True, slots=True)
class Template:
    """A string with placeholders: literal text and expressions, alternating."""

    parts: tuple[str | _Expression, ...]

    @classmethod
    def of(cls, text: str) -> str | Template:
        """``text`` itself when it has no placeholder, else its compiled template."""
        pieces = _PLACEHOLDER.split(text)
        if len(pieces) == 1:
            return text
        return cls(tuple(_expression(p) if i % 2 else p for i, p in enumerate(pieces) if p or i % 2))

    def render(self, scope: Mapping[str, Any]) -> Any:
        """The filled-in string; the value itself for a template that is one placeholder and nothing else."""
        if len(self.parts) == 1 and isinstance(self.parts[0], _Expression):
            return self.parts[0].value(scope)
        return "".join(p if isinstance(p, str) else _text(p.value(scope)) for p in self.parts)


def compile_answer(answer: Any) -> Any:
    """``answer`` (a JSON value) with every string that holds a placeholder compiled; ``ValueError`` if bad."""
    if isinstance(answer, str):
        return Template.of(answer)
    if isinstance(answer, Mapping):
        return {key: compile_answer(item) for key, item in answer.items()}
    if isinstance(answer, list | tuple):
        return [compile_answer(item) for item in answer]
    return answer


def render_answer(compiled: Any, scope: Mapping[str, Any]) -> Any:
    """The JSON value of a compiled answer, filled in from ``scope``."""
    if isinstance(compiled, Template):
        return compiled.render(scope)
    if isinstance(compiled, Mapping):
        return {key: render_answer(item, scope) for key, item in compiled.items()}
    if isinstance(compiled, list):
        return [render_answer(item, scope) for item in compiled]
    return compiled
