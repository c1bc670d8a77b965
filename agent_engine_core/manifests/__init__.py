"""Manifest models and the project loader.

The names load on first use (PEP 562): the DAG imports ``Role`` from this package at start-up, and pydantic and
YAML load with a project, not with the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_engine_core.lazy import lazy_attribute

if TYPE_CHECKING:
    from agent_engine_core.manifests.loader import KNOWN_MANIFESTS, Project, load_config_dir, load_manifests
    from agent_engine_core.manifests.models import MANIFEST_MODELS

__all__ = ["KNOWN_MANIFESTS", "MANIFEST_MODELS", "Project", "load_config_dir", "load_manifests"]

_LAZY = {
    "KNOWN_MANIFESTS": "agent_engine_core.manifests.loader",
    "Project": "agent_engine_core.manifests.loader",
    "load_config_dir": "agent_engine_core.manifests.loader",
    "load_manifests": "agent_engine_core.manifests.loader",
    "MANIFEST_MODELS": "agent_engine_core.manifests.models",
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, name)
