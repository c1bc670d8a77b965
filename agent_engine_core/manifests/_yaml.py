"""YAML parsing that remembers where every value came from.

Plain manifests (the common case) are read by ``_yaml_fast`` straight from libyaml's events; their node tree
is composed only if an error has to be located. Anything else is composed (by libyaml's C composer when
present) and constructed from the node tree, which is kept so that an error found later, by pydantic or the
DAG validator, can be pointed at a line and column.
Duplicate mapping keys, which PyYAML would silently resolve to the last one, are reported (and locations point
at the last one, the one the data holds); so are aliases that contain themselves, which would never end, and
values PyYAML cannot construct. Every problem is a located ``ManifestIssue``, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agent_engine_core.errors import ManifestIssue
from agent_engine_core.manifests._yaml_fast import fast_load

__all__ = ["YamlDocument", "parse_yaml"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = Sequence[str | int]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """Where a parsed file's values are: its text, whose node tree is composed on the first ``locate``.

    It keeps no parsed data: what a loaded project hands out is the validated, read-only models.
    """

    file: str
    text: str
    _nodes: dict[str, Node | None] = field(default_factory=dict, compare=False, repr=False)

    def _root(self) -> Node | None:
        """The document's node tree (composed once, when first needed)."""
        if "root" not in self._nodes:
            self._nodes["root"] = yaml.compose(self.text, Loader=_Loader)
        return self._nodes["root"]

    def locate(self, path: Path_) -> tuple[int | None, int | None]:
        """1-based (line, column) of the value at ``path``, or of its nearest existing ancestor."""
        node = self._root()
        if node is None:
            return None, None
        mark = node.start_mark
        for step in path:
            child = _child(node, step)
            if child is None:
                break
            node, mark = child, child.start_mark
        return mark.line + 1, mark.column + 1

    def locate_key(self, path: Path_) -> tuple[int | None, int | None]:
        """Like ``locate``, but points at the key of the last step (for unknown fields)."""
        if not path:
            return self.locate(path)
        parent = self.locate_node(path[:-1])
        if isinstance(parent, MappingNode):
            for key, _ in reversed(parent.value):
                if isinstance(key, ScalarNode) and key.value == str(path[-1]):
                    return key.start_mark.line + 1, key.start_mark.column + 1
        return self.locate(path)

    def locate_node(self, path: Path_) -> Node | None:
        """The node at ``path`` exactly, or ``None``."""
        node = self._root()
        for step in path:
            if node is None:
                return None
            node = _child(node, step)
        return node


def _child(node: Node, step: str | int) -> Node | None:
    if isinstance(node, MappingNode):
        # the last of duplicate keys, as it is the one the data holds (the others are reported as duplicates)
        found: Node | None = None
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == str(step):
                found = value
        return found
    elif isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        item: Node = node.value[step]
        return item
    return None


def parse_yaml(text: str, file: str) -> tuple[YamlDocument | None, Any, list[ManifestIssue]]:  # noqa: PLR0911 - one exit per outcome
    """Parse ``text``: the document (``None`` on a syntax error), the data it holds, and any issues found."""
    plain, data = fast_load(text)
    if plain:
        return YamlDocument(file, text), data, []
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        return None, None, [_syntax_issue(exc, text, file)]
    if root is None:
        return YamlDocument(file, text, {"root": None}), None, []
    issues = _duplicate_keys(root, file)
    if any(issue.code == "yaml.recursive" for issue in issues):
        return None, None, issues
    try:
        data = SafeConstructor().construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        issues.append(
            ManifestIssue(
                f"YAML value error: {exc.problem}",
                file=file,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
                code="yaml.syntax",
            )
        )
        return None, None, issues
    except Exception as exc:  # a constructor's error about the user's value, whatever its type: located below
        return None, None, [*issues, _value_issue(exc, root, file)]
    return YamlDocument(file, text, {"root": root}), data, issues


def _syntax_issue(exc: yaml.YAMLError, text: str, file: str) -> ManifestIssue:
    """The located issue of a text that does not parse (a syntax error, or a character YAML refuses)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, column = _position(text, mark.line, mark.column) if mark else (None, None)
        return ManifestIssue(
            f"YAML syntax error: {exc.problem or exc}", file=file, line=line, column=column,
            hint="check indentation and quoting around this position", code="yaml.syntax",
        )
    if isinstance(exc, yaml.reader.ReaderError):
        before = text[: exc.position]
        line, column = _position(text, len(_BREAK.findall(before)), len(_BREAK.split(before)[-1]))
        return ManifestIssue(
            f"YAML cannot read this file: {exc.reason} ({_codepoint(exc.character)})", file=file, line=line,
            column=column, hint="remove the control character, or save the file as UTF-8 text", code="yaml.syntax",
        )
    return ManifestIssue(f"YAML error: {exc}", file=file, code="yaml.syntax")


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""What YAML counts as a line break."""


def _position(text: str, line: int, column: int) -> tuple[int, int]:
    """1-based line and column of a 0-based mark, moved back onto the last line when libyaml points past it.

    At an unexpected end of the stream libyaml marks the line after the last one, which no editor can show.
    """
    lines = _BREAK.split(text)
    if line < len(lines):
        return line + 1, column + 1
    return len(lines), len(lines[-1]) + 1


def _codepoint(character: int | str) -> str:
    code = character if isinstance(character, int) else ord(character[:1] or "\0")
    return f"U+{code:04X}"


def _value_issue(exc: Exception, root: Node, file: str) -> ManifestIssue:
    """The located issue of a value PyYAML cannot construct (``!!int x``, the date ``2001-13-45``).

    PyYAML lets the ``ValueError`` of ``int()`` or ``datetime.date()`` escape without a mark; rather than pay for
    a wrapper around every value of every load, the failing scalar is looked for only once a load has failed.
    """
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            stack.extend(n for pair in reversed(node.value) for n in reversed(pair))
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        else:
            try:
                SafeConstructor().construct_object(node)
            except Exception as problem:  # a constructor's own error about the user's value, whatever its type
                return ManifestIssue(
                    f"YAML value error: cannot read {node.value!r} as {node.tag}: {type(problem).__name__}: {problem}",
                    file=file, line=node.start_mark.line + 1, column=node.start_mark.column + 1,
                    hint="quote the value to keep it a string, or fix it", code="yaml.syntax",
                )
    return ManifestIssue(f"YAML value error: {type(exc).__name__}: {exc}", file=file, code="yaml.syntax")


def _duplicate_keys(root: Node, file: str) -> list[ManifestIssue]:
    """Duplicate keys of every mapping, and aliases that contain themselves (which would never end).

    A depth-first walk: a node met again while it is still on the current path is a recursive alias; a node
    met again after it was finished is a shared alias, checked once.
    """
    issues: list[ManifestIssue] = []
    on_path: set[int] = set()
    done: set[int] = set()
    # (node, leaving, where): ``where`` is the mark to report a recursive alias at, the key it is the value of
    stack: list[tuple[Node, bool, Mark]] = [(root, False, root.start_mark)]
    while stack:
        node, leaving, where = stack.pop()
        if leaving:
            on_path.discard(id(node))
            done.add(id(node))
            continue
        if id(node) in on_path:
            issues.append(
                ManifestIssue(
                    "an alias refers to a node that contains it (a recursive structure)",
                    file=file, line=where.line + 1, column=where.column + 1,
                    hint="manifests are plain data; copy the value instead of using *alias inside &anchor",
                    code="yaml.recursive",
                )
            )
            return issues
        if id(node) in done:
            continue
        on_path.add(id(node))
        stack.append((node, True, where))
        if isinstance(node, MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, ScalarNode):
                    if key.value in seen:
                        issues.append(
                            ManifestIssue(
                                f"key '{key.value}' appears twice in the same mapping",
                                file=file,
                                line=key.start_mark.line + 1,
                                column=key.start_mark.column + 1,
                                hint="YAML keeps only the last one; remove or rename the duplicate",
                                code="yaml.duplicate_key",
                            )
                        )
                    seen.add(key.value)
                # scalars can neither repeat a key nor contain an alias: only collections are walked
                if not isinstance(key, ScalarNode):
                    stack.append((key, False, key.start_mark))
                if not isinstance(value, ScalarNode):
                    stack.append((value, False, key.start_mark))
        elif isinstance(node, SequenceNode):
            stack.extend((item, False, item.start_mark) for item in node.value if not isinstance(item, ScalarNode))
    return issues
