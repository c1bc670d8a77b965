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
from _tools_std_kit import CANARY, LocalServer, Resolution, as_text, build, outside_state, plant, tree_state, within
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
    # through components that do not exist or are not directories: decided on the resolved path all the same
    "workspace/../../secret.txt",
    "a/missing/../../..",
    "a/missing/../../../outside/canary.txt",
    "missing/deeper/../../../outside/canary.txt",
    "top.txt/../../outside/canary.txt",
    "a/f.txt/../../../outside/canary.txt",
    "missing/../in/../../outside/canary.txt",
    # .. after a link goes up from where the link led, as the kernel does
    "absin/../../../outside/canary.txt",   # a/b, a, the root, out
    "deep_in/../../../outside/canary.txt",
    "out/../outside/canary.txt",
    # trailing /., doubled slashes
    "../.",
    "a/missing/../../../.",
    "a//..//..//outside/canary.txt",
    "missing//..//..",
    "..//",
    # links leading outside: dangling, into a missing directory, through a missing directory
    "gone_out",
    "gone_out/x.txt",
    "via_missing_out",
    "via_missing_out/canary.txt",
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


WRITE_ESCAPES = [*ESCAPES, "dangling_out", "out/new.txt", "absout/new.txt", "up/new.txt",
                 "../outside/newdir/x.txt", "gone_out/new.txt", "missing/../../outside/newdir/x.txt",
                 "a/missing/deeper/../../../../outside/newdir/x.txt", "new/../../outside/canary.txt"]


@pytest.mark.parametrize("create_parents", [True, False])
@pytest.mark.parametrize("path", WRITE_ESCAPES)
def test_writing_outside_the_root_is_misuse_and_creates_nothing(root, path, create_parents):
    before = tree_state(root)
    tool = build("fs.write_file", root, config={"create_parents": create_parents})
    misuse(tool.invoke({"path": path, "content": "pwned"}))
    assert tree_state(root) == before  # not even the missing directories on the way inside the root


def test_missing_directories_are_created_only_where_the_resolved_path_needs_them(root):
    result = build("fs.write_file", root).invoke({"path": "n1/n2/../n3/f.txt", "content": "new"})
    assert result.status is ToolStatus.SUCCESS and result.output["path"] == "n1/n3/f.txt"
    assert (root / "n1" / "n3" / "f.txt").read_text() == "new"
    assert sorted(os.listdir(root / "n1")) == ["n3"]


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
    assert build("fs.read_file", root).invoke({"path": "workspace/../../secret.txt"}).error == (
        "path 'workspace/../../secret.txt' leads outside the tool's root")
    assert build("fs.read_file", root).invoke({"path": "via_missing_out/x"}).error == (
        "path 'via_missing_out/x' leads outside the tool's root through the symbolic link 'via_missing_out'")
    loop = build("fs.read_file", root).invoke({"path": "loop1"})
    assert "more than 40 symbolic links" in loop.error


@pytest.mark.parametrize(("path", "text"), [
    ("in/f.txt", "f inside"), ("absin/g.txt", "g inside"), ("in_file", "f inside"),
    ("a/b/back/f.txt", "f inside"), ("in_slash/f.txt", "f inside"), ("dotted/g.txt", "g inside"),
    ("root_itself/top.txt", "top inside"), ("a/b/../../top.txt", "top inside"),
    ("absin/../../top.txt", "top inside"),  # .. from where the link led (a/b), not lexically (the root's parent)
    ("deep_in/../f.txt", "f inside"), ("in_slash/./f.txt", "f inside"), ("a//b///g.txt", "g inside"),
])
def test_links_and_dotdot_that_stay_inside_the_root_are_followed(root, path, text):
    result = build("fs.read_file", root).invoke({"path": path})
    assert result.status is ToolStatus.SUCCESS, result
    assert result.output["text"] == text


@pytest.mark.parametrize(("path", "error"), [
    ("missing/../top.txt", "directory 'missing' does not exist (in path 'missing/../top.txt')"),
    ("a/missing/..", "directory 'a/missing' does not exist (in path 'a/missing/..')"),
    ("top.txt/..", "'top.txt' is not a directory (in path 'top.txt/..')"),
    ("top.txt/.", "'top.txt' is not a directory (in path 'top.txt/.')"),
    ("top.txt/", "'top.txt' is not a directory (in path 'top.txt/')"),
    ("in_file/", "'a/f.txt' is not a directory (in path 'in_file/')"),
    ("via_missing/f.txt", "directory 'missing' does not exist (in path 'via_missing/f.txt')"),
])
def test_paths_that_stay_inside_through_missing_components_are_environment_errors(root, path, error):
    result = build("fs.read_file", root).invoke({"path": path})
    assert (result.status, result.error) == (ToolStatus.ERROR, error)


def test_a_file_tool_without_root_is_refused_when_built():
    for tool in ("fs.read_file", "fs.write_file", "fs.list_dir", "proc.run_command"):
        with pytest.raises(ToolError, match="needs root"):
            build(tool, None)


# --- generated paths ------------------------------------------------------------------------------------------

SEGMENTS = ["..", ".", "", "a", "b", "f.txt", "g.txt", "top.txt", "in", "absin", "in_file", "up", "out",
            "in_slash", "dotted", "up_slash", "deep_in", "gone_out", "via_missing", "via_missing_out", "missing",
            "absout", "canary_link", "abscanary", "deep_out", "back", "loop1", "root_itself", "slash", "outside",
            "root", "canary.txt", "dir", "etc", "nowhere"]
relative_paths = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=7).map("/".join).filter(
    lambda p: p != "" and not p.startswith("/"))


def kernel_text(path: str) -> str | None:
    """What the kernel reads at ``path`` (followed links, trailing slash rules), or None if not a readable file."""
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except OSError:
        return None


def kernel_listing(path: str) -> set[str] | None:
    try:
        return set(os.listdir(path))
    except OSError:
        return None


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    base = tmp_path_factory.mktemp("generated")
    return base, plant(base)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=relative_paths)
def test_generated_paths_are_misuse_exactly_when_they_lead_outside_and_read_what_the_kernel_reads(shared, path):
    """Misuse exactly when the walk leaves the root; otherwise the kernel's own answer for ``root/path``."""
    base, root = shared
    before = outside_state(base)
    expected = Resolution(root, path)
    spelled = os.path.join(root, path)  # as a string: pathlib would drop a trailing "/." or "/"
    if not expected.misuse:  # the reference agrees with the kernel on where the path leads
        assert expected.target == os.path.realpath(spelled)
    for tool in ("fs.read_file", "fs.list_dir"):
        result = build(tool, root).invoke({"path": path})
        assert CANARY not in as_text(result)
        assert (result.status is ToolStatus.FAILURE) == expected.misuse, (path, tool, result)
        if not expected.loop and not within(root, os.path.realpath(spelled)):
            assert result.status is ToolStatus.FAILURE, (path, tool, result)
        if expected.misuse:
            assert "leads outside the tool's root" in result.error or "symbolic links" in result.error
            continue
        if tool == "fs.read_file":
            text = kernel_text(spelled)
            assert (result.status is ToolStatus.SUCCESS) == (text is not None), (path, result)
            assert text is None or result.output["text"] == text
        else:
            names = kernel_listing(spelled)
            assert (result.status is ToolStatus.SUCCESS) == (names is not None), (path, result)
            assert names is None or {e["name"] for e in result.output["entries"]} == names
    assert outside_state(base) == before


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=relative_paths, create_parents=st.booleans())
def test_generated_writes_are_misuse_exactly_when_they_lead_outside_and_never_touch_it(
        tmp_path_factory, path, create_parents):
    base = tmp_path_factory.mktemp("writes")
    root = plant(base)
    expected = Resolution(root, path)
    before, inside_before = outside_state(base), tree_state(root)
    tool = build("fs.write_file", root, config={"create_parents": create_parents})
    result = tool.invoke({"path": path, "content": "written"})
    assert outside_state(base) == before
    assert (result.status is ToolStatus.FAILURE) == expected.misuse, (path, result)
    if expected.misuse:
        assert tree_state(root) == inside_before, path
    elif result.status is ToolStatus.SUCCESS:
        assert within(root, expected.target)
        assert Path(expected.target).read_text() == "written"


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


@pytest.mark.parametrize("cwd", ["..", "out", "absout", "up", "/tmp", "a/deep_out", "canary_link",
                                 "workspace/../..", "a/missing/../../..", "top.txt/../..", "absin/../../..",
                                 "gone_out", "via_missing_out", "missing//..//../."])
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
