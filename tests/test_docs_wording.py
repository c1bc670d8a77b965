"""Words the docs do not use. Agent Engine runs workflows (a DAG of nodes); "pipeline" names something else, a
linear chain, and the build plan forbids it in the documentation. Every Markdown file of the repository is read:
README, docs/ (the generated references too), the examples' and every distribution's README."""

from __future__ import annotations

import re

import pytest
from doc_blocks import ROOT, markdown_files

FORBIDDEN = re.compile(r"pipe\W?lines?", re.IGNORECASE)


def test_the_files_read_include_every_doc():
    names = {path.relative_to(ROOT).as_posix() for path in markdown_files()}
    assert {"README.md", "docs/ARCHITECTURE.md", "docs/DEVELOPER_GUIDE.md", "docs/API_REFERENCE.md",
            "examples/hello/README.md", "examples/mini_editor/README.md", "adapters/tools-std/README.md"} <= names


@pytest.mark.parametrize("path", markdown_files(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_a_doc_never_says_pipeline(path):
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if FORBIDDEN.search(line)]
    assert found == [], "say workflow (or chain, for a linear one):\n" + "\n".join(found)


def test_the_check_finds_the_word_in_its_forms():
    assert all(FORBIDDEN.search(text) for text in ("a Pipeline", "pipelines", "pipe-line", "PIPELINE"))
    assert not FORBIDDEN.search("pipe the output to head")
