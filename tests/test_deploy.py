"""Deployment (issue 14, point 4): the fingerprint of what a deployment runs on, and the templates in deploy/.

The fingerprint is built from the engine's metadata and the interpreter; every result records it without
changing a digest. The templates are checked as far as this machine can: each file parses as what it is, and
each command it runs is a real ``agent-engine`` subcommand with real options, or a real program.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from _cli import cli_logging_restored  # noqa: F401 - a fixture, used through pytestmark
from click.testing import CliRunner

from agent_engine_core import __version__
from agent_engine_core._deployment import FIELDS
from agent_engine_core.cli import main
from agent_engine_core.engine import Engine

REPOSITORY = Path(__file__).resolve().parents[1]
DEPLOY = REPOSITORY / "deploy"
HELLO = REPOSITORY / "examples" / "hello"
PROGRAM_PATH = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                "/usr/bin", "/sbin", "/bin"])

pytestmark = pytest.mark.usefixtures("cli_logging_restored")  # the CLI configures logging in-process


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "hello"
    shutil.copytree(HELLO, target, ignore=shutil.ignore_patterns(".agent_engine", "__pycache__"))
    return target


def fingerprint_json(project: Path) -> dict:
    done = CliRunner().invoke(main, ["deploy", "fingerprint", str(project), "--json"])
    assert done.exit_code == 0, done.stderr
    return json.loads(done.stdout)


# The fingerprint.

def test_two_engines_of_one_project_record_the_same_fingerprint_the_cli_prints(project: Path) -> None:
    first, second = (Engine.from_config_dir(project, runs=False) for _ in range(2))
    recorded = first.metadata["deployment"]
    assert dict(recorded) == dict(second.metadata["deployment"])
    assert recorded == {"fingerprint": fingerprint_json(project)["fingerprint"], "python": platform.python_version()}
    assert first.run({"request": "Hello"}).metadata["deployment"] is recorded


@pytest.mark.parametrize("changed", ["workflow.yaml", "schemas/request.json"])
def test_the_fingerprint_changes_when_a_manifest_or_schema_changes(project: Path, changed: str) -> None:
    before = fingerprint_json(project)
    path = project / changed
    text = path.read_text()
    path.write_text(text + ("# edited\n" if changed.endswith(".yaml") else "\n"))
    after = fingerprint_json(project)
    assert after["fingerprint"] != before["fingerprint"]
    stem = "schemas" if changed.startswith("schemas/") else "manifests"
    assert {k for k in FIELDS if after[k] != before[k]} == {stem}


def test_the_fingerprint_changes_with_the_plugins_loaded(project: Path) -> None:
    class Extra:
        """An explicit plugin: one more entry in the plugins, so another deployment."""

    plain = Engine.from_config_dir(project, runs=False).metadata
    extra = Engine.from_config_dir(project, runs=False, plugins=[Extra()]).metadata
    assert set(extra["plugins"]) > set(plain["plugins"])
    assert extra["deployment"]["fingerprint"] != plain["deployment"]["fingerprint"]


def test_the_json_has_every_field_and_the_fingerprint_is_the_sha256_of_their_canonical_json(project: Path) -> None:
    shown = fingerprint_json(project)
    assert list(shown) == [*FIELDS, "fingerprint"]
    metadata = Engine.from_config_dir(project, runs=False).metadata
    assert shown["engine_version"] == __version__
    assert shown["plugins"] == dict(metadata["plugins"]) and shown["plugins"]["agent-engine-core"] == __version__
    assert shown["manifests"] == dict(metadata["manifests"]) and set(shown["manifests"]) == {"agents", "workflow"}
    assert shown["schemas"] == dict(metadata["schemas"]) and "request" in shown["schemas"]
    assert shown["python"] == {"version": platform.python_version(), "implementation": platform.python_implementation()}
    assert shown["platform"] == {"system": platform.system(), "machine": platform.machine()}
    body = {k: v for k, v in shown.items() if k != "fingerprint"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert shown["fingerprint"] == hashlib.sha256(canonical).hexdigest()


def test_another_deployment_records_another_fingerprint_and_the_same_trace_digest(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = Engine.from_config_dir(project, runs=False).run({"request": "Hello"}, run_id="r1")
    monkeypatch.setattr(platform, "python_version", lambda: "3.99.0")
    there = Engine.from_config_dir(project, runs=False).run({"request": "Hello"}, run_id="r1")
    assert there.metadata["deployment"]["python"] == "3.99.0"
    assert there.metadata["deployment"]["fingerprint"] != here.metadata["deployment"]["fingerprint"]
    assert there.trace.digest == here.trace.digest
    assert there.to_dict()["output"] == here.to_dict()["output"]


def test_the_text_output_names_the_fingerprint_and_each_manifest(project: Path) -> None:
    done = CliRunner().invoke(main, ["deploy", "fingerprint", str(project)])
    assert done.exit_code == 0, done.stderr
    shown = fingerprint_json(project)
    assert done.stdout.splitlines()[0] == f"fingerprint     {shown['fingerprint']}"
    for stem, sha in shown["manifests"].items():
        assert f"    {stem}  {sha}" in done.stdout


def test_an_invalid_project_exits_2_with_the_located_issue(project: Path) -> None:
    (project / "workflow.yaml").write_text("nodes: [\n")
    done = CliRunner().invoke(main, ["deploy", "fingerprint", str(project), "--json"])
    assert done.exit_code == 2
    assert "workflow.yaml" in done.stderr and not done.stdout


# The templates.

def check_command(argv: list[str]) -> None:
    """``argv`` is an ``agent-engine`` subcommand with options it has, or a program found on this machine."""
    if Path(argv[0]).name != "agent-engine":
        assert shutil.which(argv[0], path=PROGRAM_PATH), f"{argv[0]} is not a program"
        return
    command: click.Command = main
    words = argv[1:]
    while isinstance(command, click.Group):
        assert words and words[0] in command.commands, f"{shlex.join(argv)}: no subcommand {words[:1]}"
        command, words = command.commands[words[0]], words[1:]
    options = {name for param in command.params for name in param.opts if name.startswith("-")}
    for word in words:
        if word.startswith("-"):
            assert word.split("=")[0] in options, f"{shlex.join(argv)}: {command.name} has no option {word}"
    required = [p for p in command.params if isinstance(p, click.Argument) and p.required]
    assert len([w for w in words if not w.startswith("-")]) >= len(required), shlex.join(argv)


def default_distributions(text: str, pattern: str) -> list[str]:
    (found,) = re.findall(pattern, text)
    return found.split()


def test_the_default_distributions_are_folders_of_this_repository() -> None:
    chosen = [
        default_distributions((DEPLOY / "Dockerfile").read_text(), r'ARG DISTRIBUTIONS="([^"]*)"'),
        default_distributions((DEPLOY / "compose.yaml").read_text(), r"\$\{DISTRIBUTIONS:-([^}]*)\}"),
        default_distributions((DEPLOY / "bootstrap.sh").read_text(), r"\$\{DISTRIBUTIONS-([^}]*)\}"),
    ]
    assert chosen[0] == chosen[1] == chosen[2] and chosen[0]
    for folder in chosen[0]:
        assert (REPOSITORY / folder / "pyproject.toml").is_file(), folder


def test_the_compose_file_parses_and_every_service_runs_a_real_command() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "engine", "dask-scheduler", "dask-worker-1", "dask-worker-2"}
    engine = services["engine"]
    assert engine["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert set(engine["depends_on"]) == {"postgres", "dask-scheduler", "dask-worker-1", "dask-worker-2"}
    assert (DEPLOY / engine["build"]["context"] / engine["build"]["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    check_command(engine["command"])
    assert engine["command"][:2] == ["agent-engine", "queue"]
    assert engine["environment"]["AGENT_ENGINE_PG_DSN"].startswith("postgresql://")
    test = services["postgres"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "pg_isready"]
    for name, service in services.items():
        assert "command" not in service or isinstance(service["command"], list), name
    scheduler_port = services["dask-scheduler"]["command"][services["dask-scheduler"]["command"].index("--port") + 1]
    for name in ("dask-scheduler", "dask-worker-1", "dask-worker-2"):
        service = services[name]
        assert service["image"] == engine["image"] and service["pull_policy"] == "never", name  # the engine's build
        check_dask_command(service["command"])
    for name in ("dask-worker-1", "dask-worker-2"):
        worker = services[name]
        assert worker["command"][2] == f"tcp://dask-scheduler:{scheduler_port}"
        assert worker["environment"] == engine["environment"]
        assert worker["volumes"][0].split(":")[:2] == engine["volumes"][0].split(":")[:2]  # the project at /project


def check_dask_command(argv: list[str]) -> None:
    """``dask scheduler ...`` / ``dask worker ...`` with options that this machine's ``dask`` has."""
    assert argv[0] == "dask" and argv[1] in ("scheduler", "worker"), argv
    dask = shutil.which("dask", path=PROGRAM_PATH)
    assert dask, "the dask command (distributed) is not installed"
    shown = subprocess.run([dask, argv[1], "--help"], capture_output=True, text=True, check=True).stdout
    for word in argv[2:]:
        if word.startswith("--"):
            assert re.search(rf"(^|[\s,]){re.escape(word)}\b", shown), f"dask {argv[1]} has no option {word}"


def test_the_systemd_unit_parses_and_runs_the_queue_with_hardening() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    unit.read(DEPLOY / "agent-engine-queue.service")
    service = unit["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "agent-engine" and argv[1] == "queue" and "--inputs" in argv
    check_command(argv)
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == f"{argv[2]}/.agent_engine"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_bootstrap_script_is_valid_bash_with_strict_mode() -> None:
    script = DEPLOY / "bootstrap.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert "set -euo pipefail" in script.read_text().splitlines()
    assert os.access(script, os.X_OK)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0], line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_runs_real_commands_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    for instruction, arguments in instructions:
        if instruction == "RUN":
            for step in arguments.split("&&"):
                check_command(shlex.split(step))
        if instruction == "CMD":
            check_command(json.loads(arguments))
    users = [arguments for instruction, arguments in instructions if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert dict(instructions)["CMD"] == json.dumps(["agent-engine", "queue", "/project", "--inputs",
                                                    "/data/inputs.jsonl"])


def test_bootstrap_installs_validates_and_prints_the_fingerprint(tmp_path: Path, project: Path) -> None:
    """The real script, from this checkout; pip finds the dependencies where its configuration says (offline here)."""
    venv = tmp_path / "venv"
    environment = {**os.environ, "DISTRIBUTIONS": "agent_engine_plugins/memory-jsonl", "PYTHON": sys.executable}
    done = subprocess.run([str(DEPLOY / "bootstrap.sh"), str(project), str(venv)], env=environment, cwd=tmp_path,
                          check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    shown = subprocess.run([str(venv / "bin" / "agent-engine"), "deploy", "fingerprint", str(project), "--json"],
                           capture_output=True, text=True, check=True)
    installed = json.loads(shown.stdout)
    assert set(installed["plugins"]) == {"agent-engine-core", "agent-engine-memory-jsonl"}
    assert f"fingerprint     {installed['fingerprint']}" in done.stdout.splitlines()


def test_bootstrap_refuses_a_missing_project_before_creating_anything(tmp_path: Path) -> None:
    done = subprocess.run([str(DEPLOY / "bootstrap.sh"), str(tmp_path / "nowhere"), str(tmp_path / "venv")],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "is not a folder" in done.stderr
    assert not (tmp_path / "venv").exists()
