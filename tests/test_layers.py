"""The import graph follows the layers: the core never imports a distribution, nothing imports in a circle,
and no core module imports a layer above its own (docs/ARCHITECTURE.md).

Imports are read from the source (``ast``), wherever they are written: at module level, inside functions (the
lazy imports that keep start-up cheap), and under ``if TYPE_CHECKING:``. Layers and the core's independence
count every one of them. Cycles count what runs (module-level and function-level imports): a function-level
import only moves a cycle from import time to call time, while a ``TYPE_CHECKING`` import never runs.

The checks are functions of the parsed imports, so the last tests plant each kind of violation in a small
synthetic package and see it reported; the first tests apply them to the repository.
"""

from __future__ import annotations

import ast
import graphlib
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import agent_engine_core

REPOSITORY = Path(__file__).resolve().parents[1]
CORE = "agent_engine_core"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("_version", "errors", "ids", "secrets", "codec", "lazy", "_schemas", "_logging"),
    ("records", "events", "llm", "tools", "memory", "runs", "journal", "handler", "hookspecs", "providers"),
    ("manifests", "executors"),
    ("_build",),
    ("_run",),
    ("replay", "_recording"),
    ("_plugins",),
    ("engine", "_deployment", "evaluations", "inspector", "worker"),
    ("cli", "_cli_support", "_inspect_cli", "_queue_cli", "_deploy_cli", "_durable_cli", "_repl_cli", "_repl",
     "_repl_session", "_repl_terminal", "testing", ""),
)
"""The core's layers, bottom to top; a module may import only its own layer or below. A name is a module or a
package (with everything in it); ``""`` is the package ``agent_engine_core`` itself."""

KNOWN_UPWARD = {
    # ``TaskFailed.result`` is the ``TaskResult`` the run failed with; errors.py names the type for type checkers
    # only (under TYPE_CHECKING), so no foundation loads a contract at run time. Deliberate, not pending.
    ("agent_engine_core.errors", "agent_engine_core.records"),
}
"""(importer, imported) pairs allowed to go up a layer. Every pair must still occur (see below)."""


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's edge: ``importer`` (at ``path:line``) imports the module ``target``."""

    importer: str
    path: Path
    line: int
    target: str
    runs: bool
    """False under ``if TYPE_CHECKING:``."""

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPOSITORY)}:{self.line}: {self.importer} imports {self.target}"


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    path: Path
    is_package: bool


def core_modules() -> list[Module]:
    """Every module of the installed core package, found the way Python finds them."""
    found = [Module(CORE, Path(agent_engine_core.__file__), True)]
    for info in pkgutil.walk_packages(agent_engine_core.__path__, f"{CORE}."):
        folder = Path(info.module_finder.path)  # type: ignore[union-attr]
        leaf = info.name.rpartition(".")[2]
        path = folder / leaf / "__init__.py" if info.ispkg else folder / f"{leaf}.py"
        found.append(Module(info.name, path, info.ispkg))
    return found


def distribution_modules() -> list[Module]:
    """Every module of the packages of the distributions under adapters/ and agent_engine_plugins/."""
    found = []
    for distribution in sorted([*REPOSITORY.glob("adapters/*"), *REPOSITORY.glob("agent_engine_plugins/*")]):
        for package in sorted(distribution.glob("agent_engine_*/__init__.py")):
            root = package.parent
            for path in sorted(root.rglob("*.py")):
                parts = (root.name, *path.relative_to(root).with_suffix("").parts)
                is_package = parts[-1] == "__init__"
                found.append(Module(".".join(parts[:-1] if is_package else parts), path, is_package))
    return found


def imports_of(module: Module, source: str, known: Iterable[str]) -> list[Import]:
    """The imports ``module`` writes, each resolved to the module it loads (``from a import b``: ``a.b`` when
    that is a module, else ``a``)."""
    known = set(known)
    found: dict[tuple[int, str, bool], Import] = {}  # one per statement and target (``from a import b, c``)

    def add(node: ast.stmt, target: str, runs: bool) -> None:
        if target != module.name:
            found.setdefault((node.lineno, target, runs), Import(module.name, module.path, node.lineno, target, runs))

    def visit(node: ast.AST, runs: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    add(child, alias.name, runs)
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(module, child)
                for alias in child.names:
                    add(child, f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base, runs)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for statement in child.body:
                    visit(ast.Module(body=[statement], type_ignores=[]), False)
                for statement in child.orelse:
                    visit(ast.Module(body=[statement], type_ignores=[]), runs)
            else:
                visit(child, runs)

    visit(ast.parse(source, filename=str(module.path)), True)
    return list(found.values())


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` names, relative imports resolved against ``module``'s package."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def parse(modules: Iterable[Module]) -> list[Import]:
    modules = list(modules)
    known = {m.name for m in modules}
    return [found for m in modules for found in imports_of(m, m.path.read_text(encoding="utf-8"), known)]


# --------------------------------------------------------------------------------------------------------------
# The three rules, as functions of the imports
# --------------------------------------------------------------------------------------------------------------


def distribution_imports(imports: Iterable[Import]) -> list[Import]:
    """Imports of a core module that load a plugin or adapter distribution's package."""
    return [i for i in imports if _top(i.importer) == CORE and _top(i.target).startswith("agent_engine_")
            and _top(i.target) != CORE]


def cycles(imports: Iterable[Import]) -> list[list[Import]]:
    """Import cycles among the given modules (imports that run), each as the imports that close it; cycles
    through modules of one already reported are not reported again."""
    edges: dict[str, dict[str, Import]] = {}
    for found in imports:
        if found.runs:
            edges.setdefault(found.importer, {}).setdefault(found.target, found)
    graph = {importer: set(targets) for importer, targets in edges.items()}
    reported = []
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as error:
            ring = error.args[1][::-1]  # [a, b, ..., a], each one importing the next
            chain = [edges[ring[i]][ring[i + 1]] for i in range(len(ring) - 1)]
            reported.append(chain)
            for module in ring:  # look for cycles elsewhere: one report per knot is enough to start untying it
                graph.pop(module, None)
                for targets in graph.values():
                    targets.discard(module)
        else:
            return reported


def upward(imports: Iterable[Import], allowed: Iterable[tuple[str, str]] = ()) -> list[Import]:
    """Imports of a core module from a higher layer than its own, but for the ``allowed`` pairs."""
    allowed = set(allowed)
    return [i for i in imports
            if _top(i.importer) == CORE and _top(i.target) == CORE and (i.importer, i.target) not in allowed
            and layer_of(i.target) > layer_of(i.importer)]


def layer_of(module: str) -> int:
    """The layer of a core module: that of its longest listed prefix (a module, or a package it is in)."""
    relative = module[len(CORE) + 1:] if module != CORE else ""
    best: tuple[int, int] | None = None
    for level, names in enumerate(LAYERS):
        for name in names:
            if relative == name or (name and relative.startswith(f"{name}.")):
                best = max(best or (-1, -1), (len(name), level))
    if best is None:
        raise AssertionError(f"{module} has no layer: add it to LAYERS in tests/test_layers.py")
    return best[1]


def _top(module: str) -> str:
    return module.partition(".")[0]


def _report(problem: str, found: Iterable[object]) -> str:
    return problem + ":\n  " + "\n  ".join(map(str, found))


# --------------------------------------------------------------------------------------------------------------
# The repository
# --------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def core_imports() -> list[Import]:
    return parse(core_modules())


@pytest.fixture(scope="module")
def all_imports(core_imports) -> list[Import]:
    return [*core_imports, *parse(distribution_modules())]


def test_the_walk_sees_every_module_and_every_kind_of_import(core_imports, all_imports):
    importers = {i.importer for i in all_imports}
    assert {f"{CORE}.replay", f"{CORE}._run.router", "agent_engine_telemetry_jsonl.plugin",
            "agent_engine_openai._provider"} <= importers
    where = {(i.importer, i.target, i.runs) for i in core_imports}
    assert (f"{CORE}._plugins.loader", f"{CORE}._plugins.builtins", True) in where  # inside a function
    assert (f"{CORE}.replay", f"{CORE}.manifests.models", False) in where  # under TYPE_CHECKING
    assert (f"{CORE}.engine", f"{CORE}.replay", True) in where  # at module level


def test_no_core_module_imports_a_plugin_or_adapter_distribution(core_imports):
    found = distribution_imports(core_imports)
    assert not found, _report("the core imports a distribution (reach it through a hook instead)", found)


def test_no_import_cycle_in_the_repository(all_imports):
    found = cycles(all_imports)
    assert not found, "\n".join(_report("an import cycle", chain) for chain in found)


def test_no_core_module_imports_a_layer_above_its_own(core_imports):
    found = upward(core_imports, KNOWN_UPWARD)
    assert not found, _report("an import up the layers (docs/ARCHITECTURE.md)", [
        f"{i} (layer {layer_of(i.importer)} imports layer {layer_of(i.target)})" for i in found])


def test_every_module_has_a_layer_and_every_allowed_exception_still_exists(core_imports):
    for module in core_modules():
        layer_of(module.name)
    still = {(i.importer, i.target) for i in core_imports} & KNOWN_UPWARD
    assert still == KNOWN_UPWARD, f"fixed, remove from KNOWN_UPWARD: {sorted(KNOWN_UPWARD - still)}"


# --------------------------------------------------------------------------------------------------------------
# Each rule reports a planted violation
# --------------------------------------------------------------------------------------------------------------


def planted(tmp_path: Path, sources: Mapping[str, str]) -> list[Import]:
    """The imports of a synthetic package tree (module name -> source) written under ``REPOSITORY``'s rules."""
    modules = []
    for name, source in sources.items():
        path = tmp_path / f"{name.replace('.', '_')}.py"
        path.write_text(source, encoding="utf-8")
        modules.append(Module(name, path, name in {CORE, f"{CORE}._run"}))
    known = {m.name for m in modules}
    return [found for m in modules for found in imports_of(m, m.path.read_text(encoding="utf-8"), known)]


@pytest.fixture
def in_repository(tmp_path, monkeypatch):
    """Planted files live under tmp_path; report them relative to it."""
    monkeypatch.setattr(f"{__name__}.REPOSITORY", tmp_path)
    return tmp_path


def test_an_import_of_a_distribution_is_reported_wherever_it_is_written(in_repository):
    imports = planted(in_repository, {
        f"{CORE}.replay": "import agent_engine_telemetry_jsonl\n",
        f"{CORE}.engine": "def f():\n    from agent_engine_otel import plugin\n",
        f"{CORE}.cli": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import agent_engine_metrics._sink\n",
        f"{CORE}.codec": "import agent_engine_core.errors\nimport orjson\n",
    })
    assert [str(i) for i in distribution_imports(imports)] == [
        "agent_engine_core_replay.py:1: agent_engine_core.replay imports agent_engine_telemetry_jsonl",
        "agent_engine_core_engine.py:2: agent_engine_core.engine imports agent_engine_otel",
        "agent_engine_core_cli.py:3: agent_engine_core.cli imports agent_engine_metrics._sink",
    ]


def test_a_cycle_is_reported_as_its_imports_including_those_inside_functions(in_repository):
    imports = planted(in_repository, {
        f"{CORE}._run": "",
        f"{CORE}._run.a": "from . import b\n",
        f"{CORE}._run.b": "def later():\n    from agent_engine_core._run.c import x\n",
        f"{CORE}._run.c": "import agent_engine_core._run.a\nx = 1\n",
        f"{CORE}.records": "import typing\nif typing.TYPE_CHECKING:\n    from agent_engine_core import events\n",
        f"{CORE}.events": "from agent_engine_core.records import Trace\n",
    })
    (chain,) = cycles(imports)  # records <-> events is only under TYPE_CHECKING: never run, no cycle
    assert sorted(str(i) for i in chain) == [
        "agent_engine_core__run_a.py:1: agent_engine_core._run.a imports agent_engine_core._run.b",
        "agent_engine_core__run_b.py:2: agent_engine_core._run.b imports agent_engine_core._run.c",
        "agent_engine_core__run_c.py:1: agent_engine_core._run.c imports agent_engine_core._run.a",
    ]


def test_an_import_up_the_layers_is_reported_unless_allowed(in_repository):
    imports = planted(in_repository, {
        f"{CORE}.records": "def f():\n    from agent_engine_core._run.router import walk\n",
        f"{CORE}.llm": "from agent_engine_core.manifests.models import AgentSpec\n",
        f"{CORE}.engine": "from agent_engine_core import replay, codec\n",
        f"{CORE}.replay": "import agent_engine_core\n",
        f"{CORE}.codec": "",
    })
    assert [str(i) for i in upward(imports, {(f"{CORE}.llm", f"{CORE}.manifests.models")})] == [
        "agent_engine_core_records.py:2: agent_engine_core.records imports agent_engine_core._run.router",
        "agent_engine_core_replay.py:1: agent_engine_core.replay imports agent_engine_core",
    ]
