"""``agent-engine repl DIR``: the interactive session, on prompt_toolkit.

The commands and runs are ``_repl``'s, the terminal (or pipe) the lines come from ``_repl_terminal``'s;
both load only when the command runs, so that the rest of the CLI does not pay for prompt_toolkit.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agent_engine_core._cli_support import Command, global_options, guarded

if TYPE_CHECKING:
    from agent_engine_core.manifests.models import CliProfile

__all__ = ["PIPE_WIDTH", "load_profiles", "repl"]

PIPE_WIDTH = 100
"""The width of what the REPL prints into a pipe or a file (rich would take 80)."""


@click.command("repl", cls=Command, short_help="An interactive session: type inputs, see results, use /commands.")
@click.argument("config_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR")
@click.option("--profile", "profile_id", metavar="NAME", help="The profile of DIR/cli_profiles.yaml to start with "
                                                              "(default: its first).")
@click.option("--session", "session_name", metavar="NAME",
              help="Keep the session under this name (default: the profile's id).")
@guarded
def repl(config_dir: Path, profile_id: str | None, session_name: str | None) -> None:
    """Type inputs for the workflow of DIR and see each result; lines starting with / are commands (/help).

    A typed line fills the input field of the profile (cli_profiles.yaml in DIR; without one, the first field
    of the start node's input schema) and runs the workflow. The session's turns and pending attachments are
    kept in DIR/.agent_engine/sessions/ and are there again at the next launch.
    """
    from rich.console import Console  # noqa: PLC0415 - loaded when the session starts

    from agent_engine_core._repl import Repl  # noqa: PLC0415
    from agent_engine_core._repl_terminal import PipeReader, TerminalReader, interactive  # noqa: PLC0415

    profiles = load_profiles(config_dir)
    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else PIPE_WIDTH)
    with Repl(config_dir, profiles, console, session_name=session_name,
              debug=global_options(click.get_current_context()).debug) as shell:
        shell.open(profile_id or profiles[0].id)
        shell.loop(TerminalReader(shell) if interactive() else PipeReader())


def load_profiles(config_dir: Path) -> tuple[CliProfile, ...]:
    """The profiles of ``config_dir/cli_profiles.yaml``; without the file, one made from the workflow's input.

    Only that file's issues stop the REPL here: a broken workflow is reported when the profile's engine builds.
    """
    from agent_engine_core._build.cli_profiles import input_properties  # noqa: PLC0415 - with a project
    from agent_engine_core.errors import ManifestError  # noqa: PLC0415
    from agent_engine_core.manifests.loader import load_config_dir  # noqa: PLC0415
    from agent_engine_core.manifests.models import CliProfile  # noqa: PLC0415

    project = load_config_dir(config_dir)
    own = [issue for issue in project.issues if issue.file == project.source("cli_profiles").file]
    if own:
        raise ManifestError(own)
    if project.cli_profiles is not None:
        return project.cli_profiles.cli_profiles
    nodes = project.workflow.nodes if project.workflow is not None else ()
    fields = input_properties(nodes, project.schemas)
    return (CliProfile.model_validate({"id": "default", "input_field": next(iter(fields or ()), "input")}),)
