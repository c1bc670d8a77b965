"""Lazy public names and loggers for plugin packages: a heavy import waits for first use, not for discovery.

A package lists where each public name lives and forwards its module ``__getattr__`` (PEP 562) here::

    _LAZY = {"OpenAIProvider": "agent_engine_openai._provider"}

    def __getattr__(name: str) -> Any:
        return lazy_attribute(__name__, _LAZY, name)

``log = get_logger(__name__)`` at module scope is how every module of the core and of a plugin gets its
structlog logger (structlog is imported with the first line logged); see ``agent_engine_core._logging``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from agent_engine_core._logging import get_logger

__all__ = ["get_logger", "lazy_attribute"]


def lazy_attribute(package: str, modules: Mapping[str, str], name: str) -> Any:
    """``name`` imported from the module ``modules`` maps it to; ``AttributeError`` for names it does not list."""
    module = modules.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
