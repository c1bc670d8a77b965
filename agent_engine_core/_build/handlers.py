"""Resolve ``handler: "module:function"`` references while the config dir is importable.

Handler modules are imported with the config dir first on ``sys.path``. Modules that an earlier project
(another config dir) left in ``sys.modules`` are dropped before a different project imports, and so is a
module of the same name from anywhere else when the config dir has its own file: two projects with a
``nodes.py`` (and a ``helpers.py`` next to it) each load their own, and a project without one does not get
another project's. The earlier engine keeps the functions it already resolved.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_engine_core.errors import HandlerError

__all__ = ["Handler", "resolve_handler"]


@dataclass(frozen=True, slots=True)
class Handler:
    """A resolved handler and whether it must be awaited."""

    ref: str
    function: Callable[..., Any]
    is_async: bool



def resolve_handler(ref: str, *, base_dir: Path | None, handlers: Mapping[str, Callable[..., Any]]) -> Handler:
    """The callable ``ref`` names: an entry of ``handlers``, else ``module:function`` imported from ``base_dir``."""
    function = handlers.get(ref)
    if function is None and ":" not in ref and handlers:
        close = difflib.get_close_matches(ref, list(handlers), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"registered handlers: {', '.join(sorted(handlers))}"
        raise HandlerError(f"handler '{ref}' is neither a registered handler nor of the form 'module:function'",
                           hint)
    if function is None:
        function = _import(ref, base_dir)
    if not callable(function):
        raise HandlerError(f"handler '{ref}' is not callable", "point handler at a function")
    _check_signature(ref, function)
    return Handler(ref, function, inspect.iscoroutinefunction(function))


def _import(ref: str, base_dir: Path | None) -> Any:
    module_name, sep, attribute = ref.partition(":")
    if not sep or not module_name or not attribute:
        raise HandlerError(f"handler '{ref}' is not of the form 'module:function'",
                           'write handler: "module:function", e.g. "nodes:normalize"')
    try:
        module = _import_module(module_name, base_dir)
    except Exception as exc:  # any import-time error of user code is a located manifest issue
        raise HandlerError(f"cannot import module '{module_name}': {type(exc).__name__}: {exc}",
                           f"check that {module_name.replace('.', '/')}.py exists in the config dir and imports"
                           ) from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            names = [n for n in dir(target) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1, cutoff=0.6)
            raise HandlerError(f"module '{module_name}' has no attribute '{attribute}'",
                               f"did you mean '{close[0]}'?" if close else f"define {attribute} in {module_name}")
        target = getattr(target, part)
    return target


_project_dirs: set[str] = set()
"""Every config dir handler modules were imported from (resolved), to tell their modules from installed ones."""
_current_dir: list[str] = []
"""The config dir of the latest import; other projects' modules are dropped only when it changes."""


def _import_module(name: str, base_dir: Path | None) -> Any:
    if base_dir is None:
        return importlib.import_module(name)
    root = str(base_dir.resolve())
    _forget_other_projects(root)
    local = _local_file(base_dir, name)
    if local is not None:
        loaded = sys.modules.get(name)
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != local:
            for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
                del sys.modules[key]
    sys.path.insert(0, root)
    try:
        importlib.invalidate_caches()
        return importlib.import_module(name)
    finally:
        sys.path.remove(root)


def _forget_other_projects(root: str) -> None:
    """Drop the modules imported from other config dirs from ``sys.modules`` when the project changes.

    Config dirs share module names (``nodes``, ``helpers``); without this a project would silently get the
    module another project loaded under the same name.
    """
    _project_dirs.add(root)
    if _current_dir == [root]:
        return
    _current_dir[:] = [root]
    others = tuple(other + os.sep for other in _project_dirs if other != root)
    if not others:
        return
    for key, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and file.startswith(others):
            del sys.modules[key]


def _local_file(base_dir: Path, name: str) -> Path | None:
    stem = base_dir.joinpath(*name.split("."))
    for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _check_signature(ref: str, function: Callable[..., Any]) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # builtins without a signature: trust the caller
        return
    try:
        signature.bind(None, None)
    except TypeError:
        raise HandlerError(f"handler '{ref}' cannot be called as handler(payload, ctx)",
                           "define it as def handler(payload, ctx)") from None
