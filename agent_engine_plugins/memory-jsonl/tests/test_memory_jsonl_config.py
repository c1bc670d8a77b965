"""Where the files go, and misconfiguration refused when the backend is built, with the path in the message."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest
from agent_engine_core import ManifestError
from agent_engine_core.memory import MemoryItem, MemorySetup

from agent_engine_memory_jsonl import build_backend


def setup(project_dir, store="project", **config):
    return MemorySetup(store, "p1", project_dir, config=config)


class Lockable:
    """A folder that can be made unwritable for everyone, root included (``chattr +i`` when running as root)."""

    def __init__(self, folder):
        self.folder = folder

    def lock(self) -> bool:
        if os.geteuid() != 0:
            self.folder.chmod(0o500)
            return True
        return subprocess.run(["chattr", "+i", str(self.folder)], capture_output=True, check=False).returncode == 0

    def unlock(self) -> None:
        if os.geteuid() != 0:
            self.folder.chmod(0o700)
        else:
            subprocess.run(["chattr", "-i", str(self.folder)], capture_output=True, check=False)


@pytest.fixture
def lockable(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    lockable = Lockable(folder)
    if not lockable.lock():
        pytest.skip("running as root without chattr +i: no folder can be made unwritable")
    try:
        yield lockable
    finally:
        lockable.unlock()


@pytest.fixture
def unwritable_dir(lockable):
    return lockable.folder


def test_the_files_go_under_the_config_dir_by_default_or_under_a_relative_path_from_it(tmp_path):
    default = build_backend(setup(tmp_path))
    moved = build_backend(setup(tmp_path, "global", path="state/memory"))
    assert default.items_path == tmp_path / ".agent_engine" / "memory" / "project_store.jsonl"
    assert moved.items_path == tmp_path / "state" / "memory" / "global_store.jsonl"
    default.close()
    moved.close()


def test_without_a_config_dir_a_path_is_required(tmp_path):
    with pytest.raises(ValueError, match=r"the jsonl backend of the task store has no folder to write to: the "
                                         r"manifests were not loaded from a config dir, so set config\.path"):
        build_backend(setup(None, "task"))
    backend = build_backend(setup(None, "task", path=str(tmp_path / "abs")))
    backend.append(MemoryItem("a", "task", "p1", "1", 1.0))
    assert (tmp_path / "abs" / "task_store.jsonl").is_file()
    backend.close()


@pytest.mark.parametrize(("config", "message"), [
    pytest.param({"folder": "x"}, r"unknown config key 'folder'; the jsonl memory backend accepts path", id="unknown"),
    pytest.param({"path": ""}, r"config\.path must be a folder path \(text\), got ''", id="empty"),
    pytest.param({"path": 3}, r"config\.path must be a folder path \(text\), got 3", id="not-text"),
])
def test_bad_config_is_refused(tmp_path, config, message):
    with pytest.raises(ValueError, match=message):
        build_backend(setup(tmp_path, **config))


@pytest.mark.parametrize("path", ["notes.txt", "notes.txt/deeper"])
def test_a_path_that_cannot_be_a_folder_is_refused_naming_it(tmp_path, path):
    (tmp_path / "notes.txt").write_text("a file")
    with pytest.raises(ValueError, match=rf"cannot use {tmp_path}/{path}/project_store\.jsonl as a JSONL memory "
                                         r"file \(Not a directory\): config\.path must name a writable folder"):
        build_backend(setup(tmp_path, path=path))


def test_an_unwritable_folder_is_refused_when_the_backend_is_built(unwritable_dir):
    with pytest.raises(ValueError, match=rf"cannot use {unwritable_dir}/memory/task_store\.jsonl as a JSONL memory "
                                         r"file \((Permission denied|Operation not permitted)\)"):
        build_backend(setup(unwritable_dir, "task", path="memory"))
    with pytest.raises(ValueError, match=rf"cannot use {unwritable_dir}/task_store\.jsonl"):
        build_backend(setup(unwritable_dir, "task", path="."))


def test_a_misconfigured_store_is_a_manifest_error_of_memory_yaml(tmp_path, engine_from_dir):
    (tmp_path / "notes.txt").write_text("a file")
    (tmp_path / "workflow.yaml").write_text(textwrap.dedent("""\
        version: "1.0"
        nodes:
          - {id: s, role: start}
          - {id: e, role: exit}
        edges:
          - {from: s, to: e}
        """))
    (tmp_path / "memory.yaml").write_text("memory:\n  project_store: {backend: jsonl, config: {path: notes.txt}}\n")
    with pytest.raises(ManifestError) as caught:
        engine_from_dir(tmp_path)
    assert "memory.yaml" in str(caught.value)
    assert f"cannot use {tmp_path}/notes.txt/project_store.jsonl as a JSONL memory file" in str(caught.value)
