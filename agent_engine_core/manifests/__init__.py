"""Manifest models and the project loader."""

from agent_engine_core.manifests.loader import KNOWN_MANIFESTS, Project, load_config_dir, load_manifests
from agent_engine_core.manifests.models import MANIFEST_MODELS

__all__ = ["KNOWN_MANIFESTS", "MANIFEST_MODELS", "Project", "load_config_dir", "load_manifests"]
