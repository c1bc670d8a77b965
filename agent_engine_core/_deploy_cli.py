"""``agent-engine deploy``: what a deployment runs on, so it can be checked after the fact.

``deploy fingerprint DIR`` builds the engine for the project in DIR (the run store is not opened) and prints
the engine and plugin versions, the manifest and schema hashes, the interpreter and the platform, and their
SHA-256 ``fingerprint``: the value every result of that deployment records under ``metadata["deployment"]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from agent_engine_core._cli_support import Command, guarded
from agent_engine_core._deployment import FIELDS, deployment
from agent_engine_core.engine import Engine

__all__ = ["deploy"]


@click.group(short_help="Deployment checks: the fingerprint of what a deployment runs on.")
def deploy() -> None:
    """Commands for deployments (templates in the repository's deploy/ folder)."""


@deploy.command(cls=Command, short_help="Print the deployment fingerprint of a project on this machine.")
@click.argument("config_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@guarded
def fingerprint(config_dir: Path, as_json: bool) -> None:
    """Print the deployment fingerprint of the project in CONFIG_DIR as installed on this machine.

    It covers the engine version, the plugin distributions and their versions, the manifest and schema hashes,
    the Python version and implementation and the platform, and is the SHA-256 over all of them.

    Two deployments run the same thing when their fingerprints are equal; each result records the fingerprint
    under metadata["deployment"]. Exit 2 when the manifests are invalid.
    """
    with Engine.from_config_dir(config_dir, runs=False) as engine:
        described = deployment(engine.metadata)
    if as_json:
        click.echo(json.dumps(described, indent=2, ensure_ascii=False))
        return
    click.echo(f"fingerprint     {described['fingerprint']}")
    click.echo(f"engine_version  {described['engine_version']}")
    python, system = described["python"], described["platform"]
    click.echo(f"python          {python['implementation']} {python['version']}")
    click.echo(f"platform        {system['system']} {system['machine']}")
    for field in FIELDS[1:4]:
        _show_mapping(field, described[field])


def _show_mapping(title: str, values: Mapping[str, Any]) -> None:
    click.echo(f"{title}:")
    for name, value in values.items():
        click.echo(f"    {name}  {value if value is not None else 'unknown'}")
    if not values:
        click.echo("    -")
