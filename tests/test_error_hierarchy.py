"""Every exception of the core is defined in ``errors.py``, drawn in its docstring's tree, and re-exported as is."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re

import agent_engine_core
from agent_engine_core import codec, errors, handler


def _core_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(agent_engine_core.__path__, "agent_engine_core."))


def test_no_exception_is_defined_outside_errors_but_a_module_private_sentinel():
    outside = []
    for name in _core_modules():
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name
                    and name != "agent_engine_core.errors" and not attribute.startswith("_")):
                outside.append(f"{name}.{attribute}")
    assert outside == []


def _tree() -> dict[str, str]:
    """Each class the docstring's tree draws, with the class it is drawn under (its nearest shallower line)."""
    block = (errors.__doc__ or "").split("Hierarchy::\n\n", 1)[1].split("\n\n", 1)[0]
    parents: dict[str, str] = {}
    open_lines: list[tuple[int, str]] = []  # (column of the name, name) of the lines above, outermost first
    for line in block.splitlines():
        found = re.search(r"\w+", line)
        assert found is not None, line
        column, name = found.start(), found.group()
        while open_lines and open_lines[-1][0] >= column:
            open_lines.pop()
        if open_lines:
            parents[name] = open_lines[-1][1]
        open_lines.append((column, name))
    return parents


def test_the_docstring_tree_draws_every_exception_of_errors_under_its_base():
    defined = {n: v for n, v in vars(errors).items() if inspect.isclass(v) and issubclass(v, BaseException)}
    tree = _tree()
    assert sorted(tree) == sorted(defined)
    for name, parent in tree.items():
        assert parent in [base.__name__ for base in defined[name].__bases__], name


def test_public_paths_re_export_the_classes_of_errors():
    assert handler.NodeFailure is agent_engine_core.NodeFailure is errors.NodeFailure
    assert (handler.ToolMisuse, handler.MemoryDenied) == (errors.ToolMisuse, errors.MemoryDenied)
    assert codec.JSONValueError is errors.JSONValueError
    assert {"NodeFailure", "ToolMisuse", "MemoryDenied"} <= set(handler.__all__)
    assert "JSONValueError" in codec.__all__


def test_errors_imports_nothing_of_the_engine_at_run_time():
    tree = ast.parse(inspect.getsource(errors))
    checked = {id(n) for n in ast.walk(tree) if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"}
    guarded = {id(child) for n in ast.walk(tree) if id(n) in checked for child in ast.walk(n)}
    imported = [node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and id(node) not in guarded]
    assert [m for m in imported if m and m.startswith("agent_engine_core")] == []


def test_policy_denied_is_a_task_failed_and_the_queue_error_an_engine_error_with_its_limit():
    assert issubclass(agent_engine_core.PolicyDenied, agent_engine_core.TaskFailed)
    assert agent_engine_core.QueueFullError is errors.QueueFullError
    assert issubclass(errors.QueueFullError, errors.AgentEngineError)
    assert errors.QueueFullError("full", limit=3).limit == 3
