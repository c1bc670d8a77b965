"""Where the files go, and misconfiguration refused when the backend is built, with the path in the message."""

from __future__ import annotations

import re

import pytest
from agent_engine_core.memory import MemoryItem, MemorySetup
from agent_engine_core.testing import check_memory_yaml_refused

from agent_engine_memory_jsonl import build_backend


def setup(project_dir, store="project", **config):
    return MemorySetup(store, "p1", project_dir, config=config)


def test_the_files_go_under_the_config_dir_by_default_or_under_a_relative_path_from_it(tmp_path):
    default = build_backend(setup(tmp_path))
    moved = build_backend(setup(tmp_path, "global", path="state/memory"))
    assert default.items_path == tmp_path / ".agent_engine" / "memory" / "project_store.jsonl"
    assert moved.items_path == tmp_path / "state" / "memory" / "global_store.jsonl"
    default.close()
    moved.close()


def test_without_a_config_dir_a_path_is_required(tmp_path):
    with pytest.raises(ValueError, match=r"the jsonl backend of the task store has no place for its folder: the "
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


def test_an_unwritable_folder_is_refused_when_the_backend_is_built(locked_dir):
    with pytest.raises(ValueError, match=rf"cannot use {locked_dir.path}/memory/task_store\.jsonl as a JSONL memory "
                                         r"file \((Permission denied|Operation not permitted)\)"):
        build_backend(setup(locked_dir.path, "task", path="memory"))
    with pytest.raises(ValueError, match=rf"cannot use {locked_dir.path}/task_store\.jsonl"):
        build_backend(setup(locked_dir.path, "task", path="."))


def test_a_misconfigured_store_is_a_manifest_error_of_memory_yaml(tmp_path):
    (tmp_path / "notes.txt").write_text("a file")
    check_memory_yaml_refused(
        tmp_path, "memory:\n  project_store: {backend: jsonl, config: {path: notes.txt}}\n",
        match=re.escape(f"cannot use {tmp_path}/notes.txt/project_store.jsonl as a JSONL memory file"))
