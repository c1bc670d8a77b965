"""The sandbox attack suite at the tool level: every escape is misuse, and nothing outside the root is touched.

The planted tree (``_tools_std_kit.plant``) has a canary file outside the root; no result may contain it, and
``untouched`` fails a test that changed or created anything outside the root. The same attacks through an
engine (recorded ``tool_misuse`` failures, traces, events) are in ``test_tools_std_sandbox_engine.py``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from _tools_std_kit import CANARY, LocalServer, as_text, build, inside, outside_state, plant
from agent_engine_core.errors import ToolError
from agent_engine_core.tools import ToolStatus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("untouched")

ESCAPES = [
    "..",
    "../outside/canary.txt",
    "a/../../outside/canary.txt",
    "a/b/../../../outside/canary.txt",
    "./../outside/dir/canary.txt",
    "a/../..",
    "../root/top.txt",               # out and back in: refused all the same
    "up",                            # a link to the root's parent
    "up/outside/canary.txt",
    "out/canary.txt",                # a relative link to a directory outside (intermediate component)
    "absout/canary.txt",             # an absolute link to a directory outside
    "out",
    "canary_link",                   # a final link to a file outside
    "abscanary",
    "in/../../outside/canary.txt",   # a link inside, then .. twice: the root, then out
    "a/deep_out/canary.txt",         # a link in an intermediate directory, pointing out
    "a/deep_out",
    "in/deep_out/canary.txt",        # through a link inside, then one pointing out
    "absin/../../up/outside/canary.txt",
    "slash/etc/passwd",
    "slash",
    "loop1",                         # links in a circle
    "loop2/x",
    "up_slash/outside/canary.txt",
    "in_slash/../../outside/canary.txt",
]
ABSOLUTE = ["/etc/passwd", "/", "//etc/passwd"]


def misuse(result, fragment: str = "") -> None:
    assert result.status is ToolStatus.FAILURE, result
    assert fragment in (result.error or "")
    assert CANARY not in as_text(result)


@pytest.mark.parametrize("path", ESCAPES)
@pytest.mark.parametrize("tool", ["fs.read_file", "fs.list_dir"])
def test_reading_or_listing_outside_the_root_is_misuse(root, tool, path):
    misuse(build(tool, root).invoke({"path": path}))


@pytest.mark.parametrize("path", [*ESCAPES, "dangling_out", "out/new.txt", "absout/new.txt", "up/new.txt"])
def test_writing_outside_the_root_is_misuse_and_creates_nothing(root, path):
    misuse(build("fs.write_file", root).invoke({"path": path, "content": "pwned"}))


@pytest.mark.parametrize("path", ABSOLUTE)
@pytest.mark.parametrize("tool", ["fs.read_file", "fs.list_dir", "fs.write_file"])
def test_absolute_paths_are_misuse_and_say_so(root, tool, path):
    result = build(tool, root).invoke({"path": path, "content": "x"})
    misuse(result, "absolute path")
    assert "relative to the tool's root" in result.error


def test_messages_name_paths_relative_to_the_root_and_never_the_root_itself(root):
    result = build("fs.read_file", root).invoke({"path": "a/deep_out/canary.txt"})
    assert result.error == ("path 'a/deep_out/canary.txt' leads outside the tool's root "
                            "through the symbolic link 'a/deep_out'")
    assert str(root.parent) not in result.error
    assert build("fs.read_file", root).invoke({"path": "../x"}).error == "path '../x' leads outside the tool's root"
    # a link that stays inside is not blamed for the caller's own ..
    assert build("fs.read_file", root).invoke({"path": "in/../../x"}).error == (
        "path 'in/../../x' leads outside the tool's root")
    assert build("fs.read_file", root).invoke({"path": "up_slash/x"}).error == (
        "path 'up_slash/x' leads outside the tool's root through the symbolic link 'up_slash'")
    loop = build("fs.read_file", root).invoke({"path": "loop1"})
    assert "more than 40 symbolic links" in loop.error


@pytest.mark.parametrize(("path", "text"), [
    ("in/f.txt", "f inside"), ("absin/g.txt", "g inside"), ("in_file", "f inside"),
    ("a/b/back/f.txt", "f inside"), ("in_slash/f.txt", "f inside"), ("dotted/g.txt", "g inside"),
    ("root_itself/top.txt", "top inside"), ("a/b/../../top.txt", "top inside"),
])
def test_links_and_dotdot_that_stay_inside_the_root_are_followed(root, path, text):
    result = build("fs.read_file", root).invoke({"path": path})
    assert result.status is ToolStatus.SUCCESS, result
    assert result.output["text"] == text


def test_a_file_tool_without_root_is_refused_when_built():
    for tool in ("fs.read_file", "fs.write_file", "fs.list_dir", "proc.run_command"):
        with pytest.raises(ToolError, match="needs root"):
            build(tool, None)


# --- generated paths ------------------------------------------------------------------------------------------

SEGMENTS = ["..", ".", "", "a", "b", "f.txt", "g.txt", "top.txt", "in", "absin", "in_file", "up", "out",
            "in_slash", "dotted", "up_slash",
            "absout", "canary_link", "abscanary", "deep_out", "back", "loop1", "root_itself", "slash", "outside",
            "root", "canary.txt", "dir", "etc"]
relative_paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=7).map("/".join).filter(
    lambda p: p != "" and not p.startswith("/"))


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    base = tmp_path_factory.mktemp("generated")
    return base, plant(base)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=relative_paths)
def test_generated_paths_never_read_or_list_outside_the_root(shared, path):
    base, root = shared
    before = outside_state(base)
    for tool in ("fs.read_file", "fs.list_dir"):
        result = build(tool, root).invoke({"path": path})
        assert CANARY not in as_text(result)
        if result.status is ToolStatus.SUCCESS:
            assert inside(root, path), (path, result)
            real = Path(os.path.realpath(root / path))
            if tool == "fs.read_file":
                assert result.output["text"] == real.read_text()
            else:
                assert {e["name"] for e in result.output["entries"]} == set(os.listdir(real))
        elif not inside(root, path):
            assert result.status is ToolStatus.FAILURE or "does not exist" in result.error or "not a" in result.error
    assert outside_state(base) == before


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=relative_paths)
def test_generated_paths_never_write_outside_the_root(tmp_path_factory, path):
    base = tmp_path_factory.mktemp("writes")
    root = plant(base)
    before = outside_state(base)
    result = build("fs.write_file", root).invoke({"path": path, "content": "written"})
    assert outside_state(base) == before
    if result.status is ToolStatus.SUCCESS:
        assert inside(root, path), (path, result)
        assert Path(os.path.realpath(root / path)).read_text() == "written"
    elif not inside(root, path):
        assert result.status is not ToolStatus.SUCCESS


@settings(max_examples=100, deadline=None)
@given(path=st.lists(st.sampled_from(SEGMENTS), max_size=4).map(lambda parts: "/" + "/".join(parts)))
def test_generated_absolute_paths_are_always_misuse(path):
    tool = build("fs.read_file", Path("/"))  # even a root of "/" takes no absolute path
    result = tool.invoke({"path": path})
    assert result.status is ToolStatus.FAILURE and "absolute path" in result.error


# --- time of check to time of use -----------------------------------------------------------------------------


@pytest.mark.parametrize("tool_type", ["fs.read_file", "fs.write_file"])
def test_a_component_swapped_for_a_link_outside_during_calls_is_never_followed(base, root, tool_type):
    """A thread flips ``swap`` between a real directory and a link to ``outside`` while the tool works on it."""
    real, link = root / "swap_real", root / "swap_link"
    real.mkdir()
    (real / "canary.txt").write_text("inside")
    link.symlink_to(base / "outside")
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            for source in (real, link):
                os.replace(source, root / "swap")
                os.replace(root / "swap", source)

    flipper = threading.Thread(target=flip)
    flipper.start()
    tool = build(tool_type, root, config={"create_parents": False} if tool_type == "fs.write_file" else {})
    seen: set[ToolStatus] = set()
    try:
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            result = tool.invoke({"path": "swap/canary.txt", "content": "pwned"})
            seen.add(result.status)
            assert CANARY not in as_text(result)
    finally:
        stop.set()
        flipper.join()
    assert (base / "outside" / "canary.txt").read_text() == CANARY
    assert ToolStatus.SUCCESS in seen  # the race was real: some calls found the directory


# --- commands and the network ---------------------------------------------------------------------------------


def test_shell_metacharacters_in_argv_are_passed_literally(root):
    tool = build("proc.run_command", root, allow_shell=True)
    hostile = ["; touch pwned", "&& touch pwned", "| touch pwned", "$(touch pwned)", "`touch pwned`",
               "> pwned", "*"]
    result = tool.invoke({"argv": ["echo", *hostile]})
    assert result.status is ToolStatus.SUCCESS
    assert result.output["stdout"] == " ".join(hostile) + "\n"
    assert not list(root.rglob("pwned")) and not list(root.parent.rglob("pwned"))
    whole = tool.invoke({"argv": ["echo hi; touch pwned"]})  # one item is one program name, spaces and all
    assert whole.status is ToolStatus.ERROR and "was not found" in whole.error
    assert not list(root.parent.rglob("pwned"))


def test_a_command_string_is_misuse(root):
    tool = build("proc.run_command", root, allow_shell=True)
    misuse(tool.invoke({"argv": "touch pwned"}), "not a string")
    assert not list(root.parent.rglob("pwned"))


def test_run_command_without_allow_shell_is_misuse_for_every_call(root):
    tool = build("proc.run_command", root)
    result = tool.invoke({"argv": ["touch", "pwned"]})
    assert result.error == "run_command needs allow_shell: true in tools.yaml"
    misuse(result)
    assert not (root / "pwned").exists()


@pytest.mark.parametrize("cwd", ["..", "out", "absout", "up", "/tmp", "a/deep_out", "canary_link"])
def test_a_working_directory_outside_the_root_is_misuse(root, cwd):
    tool = build("proc.run_command", root, allow_shell=True)
    misuse(tool.invoke({"argv": ["touch", "pwned"], "cwd": cwd}))
    assert not list(root.parent.rglob("pwned"))


def test_network_without_permission_is_misuse_and_sends_nothing():
    with LocalServer() as server:
        tool = build("net.http_get")
        result = tool.invoke({"url": f"{server.url}/text"})
        misuse(result, "http_get needs allow_network: true in tools.yaml")
        assert server.hits == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/",
                                 "data:text/plain,hi", "/etc/passwd", "127.0.0.1/x", "http:///nohost"])
def test_only_http_and_https_urls_are_fetched(url):
    result = build("net.http_get", allow_network=True).invoke({"url": url})
    misuse(result)
    assert "root:" not in as_text(result)
