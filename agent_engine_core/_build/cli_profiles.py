"""cli_profiles.yaml at build: the fields a profile fills and the commands it offers must exist.

A profile whose ``input_field`` the start node's schema does not have would turn every typed line into a
``schema_in`` failure, and a command it names that no plugin registers would be missing from the REPL without a
word; both are typos of the profile, reported at load, located in cli_profiles.yaml.

Only a profile that runs this project (no ``default_config_dir``, or one that leads back here) is checked
against this workflow; a profile of another project is checked when the REPL loads that project.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_engine_core.manifests._hints import did_you_mean

if TYPE_CHECKING:
    from agent_engine_core.errors import ManifestIssue
    from agent_engine_core.manifests.loader import Project
    from agent_engine_core.manifests.models import CliProfile, NodeSpec

__all__ = ["cli_profile_issues", "input_properties", "runs_here"]


def runs_here(profile: CliProfile, base_dir: Path | None) -> bool:
    """Whether ``profile`` runs the project whose cli_profiles.yaml holds it."""
    if profile.default_config_dir is None:
        return True
    if base_dir is None:
        return False
    return (base_dir / profile.default_config_dir).resolve() == base_dir.resolve()


def input_properties(nodes: Sequence[NodeSpec], schemas: Mapping[str, Any]) -> Collection[str] | None:
    """The fields the default start node's ``schema_in`` declares (``None``: no schema, or one without properties)."""
    starts = [spec for spec in nodes if spec.role == "start"]
    start = next((spec for spec in starts if spec.default_start), starts[0] if len(starts) == 1 else None)
    schema: Any = start.schema_in if start is not None else None
    if isinstance(schema, str):
        schema = schemas.get(schema)
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    return tuple(properties) if isinstance(properties, Mapping) else None


def cli_profile_issues(project: Project, nodes: Sequence[NodeSpec], commands: Collection[str],
                       issues: list[ManifestIssue]) -> None:
    """Add an issue for each field or command of a profile that the project or the installed plugins lack."""
    manifest = project.cli_profiles
    if manifest is None:
        return
    source = project.source("cli_profiles")
    fields = input_properties(nodes, project.schemas)
    for index, profile in enumerate(manifest.cli_profiles):
        where: list[str | int] = ["cli_profiles", index]
        if fields is not None and runs_here(profile, project.base_dir):
            for key in ("input_field", "attach_field"):
                name = getattr(profile, key)
                if name is not None and name not in fields:
                    issues.append(source.issue(
                        f"profile '{profile.id}': {key} '{name}' is not a field of the start node's input schema",
                        [*where, key], code="cli_profiles.unknown_field",
                        hint=did_you_mean(name, fields) or f"use one of: {', '.join(fields) or 'none'}"))
        for position, command in enumerate(profile.commands or ()):
            if command not in commands:
                issues.append(source.issue(
                    f"profile '{profile.id}' offers command '{command}', which no installed plugin registers",
                    [*where, "commands", position], code="cli_profiles.unknown_command",
                    hint=did_you_mean(command, commands) or "install the plugin that provides it, or remove it"))
