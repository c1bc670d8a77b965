"""The core and its distributions use only public APIs of the standard library and of third-party packages.

A private name (``asyncio._get_running_loop``, ``EntryPoint._for``, ``yaml._yaml``) can change or vanish in any
release of its package. The check reads the source: an underscore attribute of an imported name (a module, or
a class imported from one), an import from a private module or of a private name, and the private names
already found on instances, anywhere.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = ("agent_engine_core", "agent_engine_")

DOCUMENTED = frozenset({"_exit", "_asdict", "_replace", "_fields", "_make", "_field_defaults"})
"""Public API despite the underscore: ``os._exit`` and the named-tuple methods (named so to avoid fields)."""

ON_INSTANCES = frozenset({"_for", "_get_running_loop", "_getframe"})
"""Private names of the standard library that reach us through instances, which the import check cannot see."""


def _sources() -> list[Path]:
    packages = [ROOT / "agent_engine_core", *ROOT.glob("adapters/*/agent_engine_*"),
                *ROOT.glob("agent_engine_plugins/*/agent_engine_*")]
    return sorted(p for package in packages for p in package.rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _foreign_names(tree: ast.Module) -> set[str]:
    """Names that stand for another package's module or object: imports of it, and standard modules by name."""
    names = set(sys.stdlib_module_names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update((a.asname or a.name.split(".")[0]) for a in node.names if not a.name.startswith(OURS))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and not (node.module or "").startswith(OURS):
            names.update(a.asname or a.name for a in node.names)
    return names


def _problems(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    foreign = _foreign_names(tree)
    where = path.relative_to(root)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in DOCUMENTED:
            if node.attr in ON_INSTANCES or (isinstance(node.value, ast.Name) and node.value.id in foreign):
                found.append(f"{where}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and not (node.module or "").startswith(OURS):
            parts = (node.module or "").split(".")
            if any(_private(p) for p in parts) or any(_private(a.name) for a in node.names):
                found.append(f"{where}:{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [f"{where}:{node.lineno}: import {a.name}" for a in node.names
                      if not a.name.startswith(OURS) and any(_private(p) for p in a.name.split("."))]
    return found


def test_no_private_api_of_another_package_is_used():
    assert [problem for path in _sources() for problem in _problems(path)] == []


def test_the_check_sees_each_kind_of_private_use(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import asyncio\nimport os\nfrom yaml._yaml import CParser\nfrom importlib.metadata import EntryPoint\n"
        "asyncio._get_running_loop()\nEntryPoint._private\npoint._for(dist)\nos._exit(1)\nrow._asdict()\n"
    )
    found = sorted(_problems(sample, tmp_path), key=lambda p: int(p.split(":")[1]))
    assert [p.split(": ", 1)[1] for p in found] == [
        "from yaml._yaml import ...", "._get_running_loop", "._private", "._for"
    ]
