"""Fail when a relative Markdown link in README.md, docs/ or examples/ points to a file that does not exist.

Checks ``[text](target)`` links whose target is a path (no scheme, not a bare ``#anchor``); the ``#anchor``
part of a target is ignored. Run from anywhere: ``python .ci/check_doc_links.py``; exits 1 listing every broken
link as ``file:line: target``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`[^`]*`")


def markdown_files() -> list[Path]:
    """README.md and every Markdown file under docs/ and examples/."""
    files = [ROOT / "README.md"]
    for folder in ("docs", "examples"):
        files.extend(sorted((ROOT / folder).rglob("*.md")))
    return [f for f in files if f.is_file()]


def broken_links(path: Path) -> list[str]:
    """``file:line: target`` for each link in ``path`` (outside code fences and spans) whose file is missing."""
    problems = []
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for target in LINK.findall(CODE_SPAN.sub("", line)):  # `a["b"](c)` is code, not a link
            if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
                continue
            relative = target.split("#", 1)[0]
            if not (path.parent / relative).exists():
                problems.append(f"{path.relative_to(ROOT)}:{number}: {target}")
    return problems


def main() -> int:
    """Print the broken links and a summary; 1 when there is any."""
    problems = [p for f in markdown_files() for p in broken_links(f)]
    for problem in problems:
        print(problem)
    files = len(markdown_files())
    print(f"{len(problems)} broken link(s) in {files} file(s)" if problems else f"links ok in {files} file(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
