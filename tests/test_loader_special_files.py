"""Every file the loader opens is a regular file within limits, or a located issue (never a hang or a crash)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

from agent_engine_core import Engine, ManifestError
from agent_engine_core.manifests import loader

HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "hello"
    shutil.copytree(HELLO, target, ignore=shutil.ignore_patterns("__pycache__", ".agent_engine"))
    return target


def _load_issues(project: Path) -> list:
    """The issues of a load that must finish quickly: a hang fails the test instead of blocking the suite."""
    outcome: list = []

    def load() -> None:
        try:
            Engine.from_config_dir(project)
        except ManifestError as exc:
            outcome.append(list(exc.issues))
        except BaseException as exc:  # the assertion below shows what escaped
            outcome.append(exc)
        else:
            outcome.append([])

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(30)
    assert outcome, "loading the project hung"
    (result,) = outcome
    assert isinstance(result, list), f"the load raised {result!r} instead of reporting an issue"
    return result


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _directory(path: Path) -> None:
    path.mkdir()


def _loop(path: Path) -> None:
    path.symlink_to(path.name)


def _socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()


def _device(path: Path) -> None:
    path.symlink_to("/dev/zero")


@pytest.mark.parametrize(("make", "why"), [(_fifo, "named pipe"), (_directory, "directory"),
                                           (_loop, "symbolic links"), (_socket, "socket"),
                                           (_device, "character device")])
@pytest.mark.parametrize("name", ["schemas/x.json", "tools.yaml", "workflow.yaml"])
def test_a_special_file_where_a_manifest_belongs_is_a_located_issue(project: Path, make, why, name) -> None:
    target = project / name
    if target.exists():
        target.unlink()
    make(target)
    issues = _load_issues(project)
    mine = [i for i in issues if i.code == "manifest.unreadable_file"]
    assert len(mine) == 1, issues
    assert mine[0].file == str(target)
    assert why in mine[0].message
    assert not [i for i in issues if i.code == "manifest.missing_file"]  # it is there, just not readable


def test_a_manifest_beyond_the_size_limit_is_refused_without_reading_it_all(project: Path, monkeypatch) -> None:
    limit = max(f.stat().st_size for f in project.rglob("*") if f.is_file()) + 1
    monkeypatch.setattr(loader, "MAX_MANIFEST_BYTES", limit)
    (project / "tools.yaml").write_text("tools: []\n" + "#" * limit + "\n")
    issues = _load_issues(project)
    (issue,) = [i for i in issues if i.code == "manifest.unreadable_file"]
    assert issue.file == str(project / "tools.yaml")
    assert "larger than" in issue.message


def test_a_symlink_to_a_regular_manifest_still_loads(project: Path) -> None:
    real = project / "agents.real.yaml"
    (project / "agents.yaml").rename(real)
    (project / "agents.yaml").symlink_to(real.name)
    assert _load_issues(project) == []
