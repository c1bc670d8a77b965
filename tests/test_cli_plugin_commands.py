"""``register_cli_commands``: installed plugins add ``agent-engine`` sub-commands (SPEC §5)."""

from __future__ import annotations

import types

import click
import pytest
from _cli import cli_logging_restored  # noqa: F401 - fixture
from click.testing import CliRunner

from agent_engine_core import hookimpl
from agent_engine_core.cli import main

pytestmark = pytest.mark.usefixtures("cli_logging_restored")


def command_plugin(*commands: object) -> types.ModuleType:
    module = types.ModuleType("acme_cli")

    @hookimpl
    def register_cli_commands(register):
        for command in commands:
            register(command)

    module.register_cli_commands = register_cli_commands
    return module


@click.command(name="hello", short_help="Say hello.")
@click.argument("who")
def hello(who: str) -> None:
    click.echo(f"hello, {who}")


@click.command(name="explode")
def explode() -> None:
    raise RuntimeError("the plugin's own bug")


@click.command(name="run")
def fake_run() -> None:
    click.echo("a plugin's run")


def test_a_plugin_command_runs_and_is_listed_in_help(fake_entry_points):
    fake_entry_points(("acme", command_plugin(hello), "agent-engine-acme"))
    result = CliRunner().invoke(main, ["hello", "world"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello, world\n"
    listing = CliRunner().invoke(main, ["--help"])
    assert "hello" in listing.output
    assert "Say hello." in listing.output


def test_a_failing_plugin_command_is_an_error_line_not_a_traceback(fake_entry_points):
    fake_entry_points(("acme", command_plugin(explode), "agent-engine-acme"))
    result = CliRunner().invoke(main, ["explode"])
    assert result.exit_code == 1
    assert "internal error: RuntimeError: the plugin's own bug" in result.output
    assert "Traceback" not in result.output


def test_a_built_in_name_keeps_its_built_in_command(fake_entry_points, tmp_path):
    fake_entry_points(("acme", command_plugin(fake_run), "agent-engine-acme"))
    result = CliRunner().invoke(main, ["run", str(tmp_path / "missing"), "--input", "1"])
    assert "a plugin's run" not in result.output
    assert result.exit_code == 2  # the real run refusing a missing config dir


def test_something_that_is_not_a_click_command_is_reported_and_left_out(fake_entry_points):
    module = types.ModuleType("bogus_cli")

    @hookimpl
    def register_cli_commands(register):
        register("bogus", "not a command")

    module.register_cli_commands = register_cli_commands
    fake_entry_points(("bogus", module, "agent-engine-bogus"), ("acme", command_plugin(hello), "agent-engine-acme"))
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "agent-engine-bogus registered CLI command 'bogus', which is not a click command (a str)" in result.output
    assert "hello" in result.output
    assert CliRunner().invoke(main, ["hello", "you"]).output.endswith("hello, you\n")


@click.group(name="kit")
def kit() -> None:
    """A plugin's group of commands."""


@kit.command(name="boom")
def kit_boom() -> None:
    raise RuntimeError("the sub-command's own bug")


def test_a_failing_sub_command_of_a_plugin_group_is_guarded_too(fake_entry_points):
    fake_entry_points(("acme", command_plugin(kit), "agent-engine-acme"))
    result = CliRunner().invoke(main, ["kit", "boom"])
    assert result.exit_code == 1
    assert "internal error: RuntimeError: the sub-command's own bug" in result.output
    assert "Traceback" not in result.output
    assert not hasattr(kit.commands["boom"].callback, "__wrapped__")  # the plugin's own command is left as it was


@click.command(name="picky")
@click.option("--size", type=int, default=1)
def picky(size: int) -> None:
    if size > 10:
        raise click.BadParameter(f"{size} is more than 10", param_hint="--size")
    click.echo(f"size {size}")


def test_a_plugin_commands_own_usage_error_is_a_usage_error_not_an_internal_one(fake_entry_points):
    fake_entry_points(("acme", command_plugin(picky), "agent-engine-acme"))
    result = CliRunner().invoke(main, ["picky", "--size", "11"])
    assert result.exit_code == 2
    assert "Invalid value for --size: 11 is more than 10" in result.output
    assert "internal error" not in result.output
    assert CliRunner().invoke(main, ["picky", "--size", "3"]).output == "size 3\n"
