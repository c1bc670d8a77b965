"""The root itself: a symlinked root is refused unless allowed, and a root is pinned when the tool is built.

The core resolves ``root`` (relative to the config dir) before a factory sees it; the factory compares it with
the path as written to find a symbolic link on the way, and the tool checks on every call that the directory
it opens is the one it was built with.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _tools_std_kit import CANARY, as_text, build
from agent_engine_core.errors import ToolError
from agent_engine_core.tools import ToolStatus


def misuse(result) -> None:
    assert result.status is ToolStatus.FAILURE, result
    assert CANARY not in as_text(result)


def test_a_root_that_is_a_symlink_is_refused_unless_allowed(base, root):
    link = base / "root_link"
    link.symlink_to(root)
    with pytest.raises(ToolError, match="goes through a symbolic link") as caught:
        build("fs.read_file", link)
    assert "allow_symlinked_root: true" in str(caught.value)
    tool = build("fs.read_file", link, config={"allow_symlinked_root": True})
    assert tool.invoke({"path": "top.txt"}).output["text"] == "top inside"
    misuse(tool.invoke({"path": "../outside/canary.txt"}))
    misuse(tool.invoke({"path": "../root_link/top.txt"}))


def test_a_root_below_a_symlinked_directory_is_refused_too(base, root):
    (base / "via").symlink_to(root / "a")
    with pytest.raises(ToolError, match="goes through a symbolic link"):
        build("fs.list_dir", base / "via" / "b")


def test_a_relative_root_is_checked_from_the_config_dir(base, root):
    tool = build("fs.read_file", Path("root"), project_dir=base)
    assert tool.invoke({"path": "top.txt"}).output["text"] == "top inside"
    (base / "linked").symlink_to("root")
    with pytest.raises(ToolError, match="root 'linked' goes through a symbolic link"):
        build("fs.read_file", Path("linked"), project_dir=base)


def test_a_symlinked_root_is_pinned_to_its_target_when_built(base, root):
    link = base / "root_link"
    link.symlink_to(root)
    tool = build("fs.read_file", link, config={"allow_symlinked_root": True})
    link.unlink()
    link.symlink_to(base / "outside")  # re-pointing the link later does not move the root
    assert tool.invoke({"path": "top.txt"}).output["text"] == "top inside"
    assert tool.invoke({"path": "canary.txt"}).status is ToolStatus.ERROR


def test_a_root_replaced_after_loading_is_an_environment_error(base, root):
    tool = build("fs.read_file", root)
    root.rename(base / "moved")
    root.symlink_to(base / "outside", target_is_directory=True)
    result = tool.invoke({"path": "canary.txt"})
    assert result.status is ToolStatus.ERROR and CANARY not in as_text(result)
    root.unlink()
    root.mkdir()
    (root / "top.txt").write_text("impostor")
    result = tool.invoke({"path": "top.txt"})
    assert result.status is ToolStatus.ERROR
    assert result.error == "the tool's root directory was replaced after the engine loaded it"
