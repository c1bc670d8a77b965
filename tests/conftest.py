"""Shared fixtures of the core's tests: write a project (a config dir) to disk; close the helpers' engines."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from _workflows import close_engines

ProjectFiles = Mapping[str, str | Mapping[str, Any] | list[Any]]


def write_files(root: Path, files: ProjectFiles) -> Path:
    """Write ``files`` (relative path -> content) under ``root`` and return ``root``.

    Text is dedented and written as is, so a test knows the line of every YAML value; a mapping or list is
    dumped as JSON for ``*.json`` files and as YAML otherwise.
    """
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(textwrap.dedent(content), encoding="utf-8")
        elif name.endswith(".json"):
            path.write_text(json.dumps(content, indent=2), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return root


@pytest.fixture
def write_project(tmp_path: Path) -> Callable[..., Path]:
    """``write_project(files, name="project")`` writes a config dir under ``tmp_path`` and returns its path."""

    def write(files: ProjectFiles, name: str = "project") -> Path:
        return write_files(tmp_path / name, files)

    return write


@pytest.fixture(autouse=True)
def _helper_engines_closed() -> Iterator[None]:
    """Engines made by ``_workflows.engine`` during a test are closed when it ends (their threads joined)."""
    yield
    close_engines()
