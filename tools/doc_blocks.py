"""The repository's Markdown files and their fenced blocks, for the tests that check what the docs say."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SKIPPED = {".git", ".venv", ".tox", "node_modules", "build", "dist", "__pycache__", ".pytest_cache", "vendor"}
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)(.*)$")


def markdown_files() -> list[Path]:
    """Every Markdown file of the repository (README, docs/, examples/, each distribution's README...)."""
    return sorted(path for path in ROOT.rglob("*.md")
                  if not _SKIPPED.intersection(path.relative_to(ROOT).parts)
                  and not any(part.endswith(".egg-info") for part in path.relative_to(ROOT).parts))


@dataclass(frozen=True)
class Fenced:
    """A fenced block of a Markdown file.

    ``lang`` is the first word of its info string (``""`` for none), ``info`` the rest; ``line`` is the line
    of its first content line.
    """

    path: Path
    lang: str
    info: str
    text: str
    line: int

    @property
    def where(self) -> str:
        """``file:line``, relative to the repository."""
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def fenced_blocks(path: Path) -> list[Fenced]:
    """The fenced blocks of ``path``, in order (a fence closes on the same marker, at least as long)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, marker, lang, info = opening.groups()
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(marker):
            end += 1
        body = [line[len(indent):] if line.startswith(indent) else line for line in lines[index + 1:end]]
        found.append(Fenced(path, lang, info.strip(), "\n".join(body), index + 2))
        index = end + 1
    return found
