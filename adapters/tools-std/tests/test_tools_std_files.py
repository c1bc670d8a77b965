"""fs.read_file, fs.write_file and fs.list_dir inside their root: results, caps, atomic writes, error kinds."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest
from _tools_std_kit import build
from agent_engine_core.errors import ToolError
from agent_engine_core.tools import ToolStatus


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "root"
    path.mkdir()
    return path


# --- read_file ------------------------------------------------------------------------------------------------


def test_read_file_returns_the_text_and_its_size(root):
    (root / "notes").mkdir()
    (root / "notes" / "a.md").write_text("h\u00e9llo\n", encoding="utf-8")
    result = build("fs.read_file", root).invoke({"path": "notes/./a.md"})
    assert result.status is ToolStatus.SUCCESS
    assert result.output == {"path": "notes/a.md", "text": "h\u00e9llo\n", "size": 7, "truncated": False}


def test_a_file_over_max_bytes_comes_back_truncated_at_a_character_boundary(root):
    (root / "big.txt").write_text("\u00e9" * 10, encoding="utf-8")  # 20 bytes, 2 per character
    result = build("fs.read_file", root, config={"max_bytes": 5}).invoke({"path": "big.txt"})
    assert result.status is ToolStatus.SUCCESS
    assert result.output == {"path": "big.txt", "text": "\u00e9\u00e9", "size": 20, "truncated": True}
    exact = build("fs.read_file", root, config={"max_bytes": 20}).invoke({"path": "big.txt"})
    assert exact.output["truncated"] is False and exact.output["text"] == "\u00e9" * 10


@pytest.mark.parametrize(("setup", "path", "error"), [
    (lambda root: None, "missing.txt", "file 'missing.txt' does not exist"),
    (lambda root: None, "no/such/dir.txt", "directory 'no' does not exist (in path 'no/such/dir.txt')"),
    (lambda root: (root / "d").mkdir(), "d", "'d' is a directory"),
    (lambda root: (root / "bin").write_bytes(b"ok\xff\xfe"), "bin",
     "'bin' is not UTF-8 text (invalid byte at offset 2)"),
    (lambda root: os.mkfifo(root / "fifo"), "fifo", "'fifo' is not a regular file"),
    (lambda root: (root / "f").write_text("x"), "f/child", "'f' is not a directory (in path 'f/child')"),
])
def test_read_file_problems_of_the_file_system_are_environment_errors(root, setup, path, error):
    setup(root)
    result = build("fs.read_file", root).invoke({"path": path})
    assert result.status is ToolStatus.ERROR
    assert result.error == error


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_an_environment_error(root):
    (root / "secret").write_text("x")
    (root / "secret").chmod(0)
    result = build("fs.read_file", root).invoke({"path": "secret"})
    assert (result.status, result.error) == (ToolStatus.ERROR, "'secret': permission denied")


def test_an_empty_path_is_misuse(root):
    for tool in ("fs.read_file", "fs.list_dir"):
        result = build(tool, root).invoke({"path": ""})
        assert result.status is ToolStatus.FAILURE and "path is empty" in result.error


# --- write_file -----------------------------------------------------------------------------------------------


def test_write_file_creates_the_file_and_its_parents(root):
    result = build("fs.write_file", root).invoke({"path": "out/day/report.md", "content": "\u00e9t\u00e9"})
    assert result.status is ToolStatus.SUCCESS
    assert result.output == {"path": "out/day/report.md", "bytes_written": 5}
    assert (root / "out" / "day" / "report.md").read_text(encoding="utf-8") == "\u00e9t\u00e9"
    assert sorted(os.listdir(root / "out" / "day")) == ["report.md"]  # no temporary file left behind


def test_write_file_without_create_parents_needs_the_directory(root):
    tool = build("fs.write_file", root, config={"create_parents": False})
    result = tool.invoke({"path": "out/report.md", "content": "x"})
    assert result.status is ToolStatus.ERROR
    assert result.error == "directory 'out' does not exist (in path 'out/report.md')"
    assert not (root / "out").exists()


def test_write_file_replaces_a_file_and_keeps_its_permission_bits(root):
    target = root / "conf.txt"
    target.write_text("old")
    target.chmod(0o640)
    inode = target.stat().st_ino
    result = build("fs.write_file", root).invoke({"path": "conf.txt", "content": "new"})
    assert result.status is ToolStatus.SUCCESS
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode  # a new file renamed into place, not the old one rewritten


def test_write_file_through_a_link_inside_the_root_writes_the_target(root):
    (root / "real.txt").write_text("old")
    (root / "alias").symlink_to("real.txt")
    result = build("fs.write_file", root).invoke({"path": "alias", "content": "new"})
    assert result.output == {"path": "real.txt", "bytes_written": 3}
    assert (root / "alias").is_symlink() and (root / "real.txt").read_text() == "new"


def test_content_over_max_bytes_is_misuse_and_writes_nothing(root):
    result = build("fs.write_file", root, config={"max_bytes": 4}).invoke({"path": "a.txt", "content": "12345"})
    assert result.status is ToolStatus.FAILURE
    assert result.error == "content is 5 bytes; this tool writes at most 4 (config.max_bytes)"
    assert not (root / "a.txt").exists()


def test_writing_onto_a_directory_is_an_environment_error(root):
    (root / "d").mkdir()
    for path in ("d", "."):
        result = build("fs.write_file", root).invoke({"path": path, "content": "x"})
        assert (result.status, result.error) == (ToolStatus.ERROR, f"'{path}' is a directory")


def test_a_write_that_fails_midway_leaves_the_old_content_and_no_temporary_file(root):
    """The file size limit (RLIMIT_FSIZE) makes the kernel refuse the write after 1000 bytes, in a child process."""
    (root / "doc.txt").write_text("old content")
    script = textwrap.dedent(f"""
        import json, resource, signal, sys
        from pathlib import Path
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from _tools_std_kit import build
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        tool = build("fs.write_file", Path({str(root)!r}))
        print(json.dumps(tool.invoke({{"path": "doc.txt", "content": "x" * 100000}}).to_dict()))
    """)
    done = subprocess.run([sys.executable, "-B", "-c", script], capture_output=True, text=True, check=True,
                          timeout=60)
    assert json.loads(done.stdout) == {"status": "error", "output": None, "error": "'doc.txt': file too large"}
    assert (root / "doc.txt").read_text() == "old content"
    assert os.listdir(root) == ["doc.txt"]


# --- list_dir -------------------------------------------------------------------------------------------------


def test_list_dir_returns_sorted_entries_with_type_and_size(root):
    (root / "b.txt").write_text("12345")
    (root / "a").mkdir()
    (root / "c").symlink_to("b.txt")
    (root / ".hidden").write_text("")
    os.mkfifo(root / "pipe")
    result = build("fs.list_dir", root).invoke({})
    assert result.status is ToolStatus.SUCCESS
    assert result.output == {"path": ".", "truncated": False, "entries": [
        {"name": ".hidden", "type": "file", "size": 0},
        {"name": "a", "type": "dir", "size": None},
        {"name": "b.txt", "type": "file", "size": 5},
        {"name": "c", "type": "symlink", "size": None},
        {"name": "pipe", "type": "other", "size": None},
    ]}


def test_list_dir_follows_a_link_inside_the_root_and_caps_the_entries(root):
    (root / "d").mkdir()
    for name in ("z", "y", "x"):
        (root / "d" / name).write_text(name)
    (root / "alias").symlink_to("d")
    result = build("fs.list_dir", root, config={"max_entries": 2}).invoke({"path": "alias"})
    assert result.output == {"path": "d", "truncated": True, "entries": [
        {"name": "x", "type": "file", "size": 1}, {"name": "y", "type": "file", "size": 1}]}


def test_list_dir_of_a_file_or_a_missing_directory_is_an_environment_error(root):
    (root / "f").write_text("x")
    tool = build("fs.list_dir", root)
    assert tool.invoke({"path": "f"}).error == "'f' is not a directory"
    assert tool.invoke({"path": "gone"}).error == "directory 'gone' does not exist"


def test_names_that_are_not_utf8_are_listed_with_replacement_characters(root):
    os.close(os.open(os.path.join(os.fsencode(root), b"caf\xe9"), os.O_CREAT | os.O_WRONLY))
    result = build("fs.list_dir", root).invoke({"path": "."})
    assert result.output["entries"] == [{"name": "caf\ufffd", "type": "file", "size": 0}]
    json.dumps(result.output)  # it can travel as JSON


# --- config ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("tool", "config", "message"), [
    ("fs.read_file", {"max_bytse": 1}, "fs.read_file has no config key 'max_bytse' (did you mean 'max_bytes'?)"),
    ("fs.read_file", {"max_bytes": 0}, "config.max_bytes of fs.read_file must be an integer >= 1, not 0"),
    ("fs.read_file", {"max_bytes": True}, "config.max_bytes of fs.read_file must be an integer >= 1, not True"),
    ("fs.write_file", {"create_parents": "yes"}, "config.create_parents of fs.write_file must be true or false"),
    ("fs.list_dir", {"allow_symlinked_root": 1}, "config.allow_symlinked_root of fs.list_dir must be true or false"),
])
def test_bad_config_is_refused_when_the_tool_is_built(root, tool, config, message):
    with pytest.raises(ToolError) as caught:
        build(tool, root, config=config)
    assert message in str(caught.value)


def test_the_argument_schemas_are_what_models_are_shown(root):
    assert build("fs.read_file", root).parameters == {
        "type": "object", "required": ["path"], "additionalProperties": False,
        "properties": {"path": {"type": "string", "minLength": 1, "description": (
            "A path relative to the tool's root directory, with '/' as separator; absolute paths are refused.")}},
    }
    assert build("fs.write_file", root).parameters["required"] == ["path", "content"]
    assert "required" not in build("fs.list_dir", root).parameters
