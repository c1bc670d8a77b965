"""The sandbox attack suite through an engine: each attempt is a recorded ``tool_misuse`` failure or a load error.

The engine discovers this distribution through a (fake) entry point, as an operator's install would make it;
handlers call ``ctx.tools.<id>(...)`` and a scripted model asks for tool calls. After every attempt the
canary planted outside the root is in no result, trace or event, and nothing outside the root changed.
"""

from __future__ import annotations

import json

import pytest
from _tools_std_kit import CANARY, ScriptedModel, agent_engine, handler_engine, reply
from agent_engine_core import ManifestError, Status

pytestmark = pytest.mark.usefixtures("only_this_distribution", "untouched")

TOOLS = [
    {"id": "read_file", "type": "fs.read_file", "root": "root"},
    {"id": "write_file", "type": "fs.write_file", "root": "root"},
    {"id": "list_dir", "type": "fs.list_dir", "root": "root"},
    {"id": "run", "type": "proc.run_command", "root": "root", "allow_shell": True, "timeout_s": 5},
    {"id": "run_denied", "type": "proc.run_command", "root": "root"},
    {"id": "fetch", "type": "net.http_get", "allow_network": True},
    {"id": "fetch_denied", "type": "net.http_get"},
]
ALL = [t["id"] for t in TOOLS]

ATTACKS = [
    ("read_file", {"path": "../outside/canary.txt"}, "leads outside the tool's root"),
    ("read_file", {"path": "out/canary.txt"}, "through the symbolic link 'out'"),
    ("read_file", {"path": "canary_link"}, "through the symbolic link 'canary_link'"),
    ("read_file", {"path": "abscanary"}, "through the symbolic link 'abscanary'"),
    ("read_file", {"path": "/etc/passwd"}, "absolute path '/etc/passwd' is not accepted"),
    ("read_file", {"path": "top.txt", "mode": "rb"}, "bad arguments for tool 'read_file'"),
    ("read_file", {"path": ["top.txt"]}, "bad arguments for tool 'read_file' at /path"),
    ("list_dir", {"path": "up"}, "through the symbolic link 'up'"),
    ("list_dir", {"path": "a/deep_out"}, "through the symbolic link 'a/deep_out'"),
    ("write_file", {"path": "dangling_out", "content": "pwned"}, "through the symbolic link 'dangling_out'"),
    ("write_file", {"path": "../outside/new.txt", "content": "pwned"}, "leads outside the tool's root"),
    ("write_file", {"path": "absout/new.txt", "content": "pwned"}, "through the symbolic link 'absout'"),
    ("run", {"argv": "touch pwned"}, "bad arguments for tool 'run' at /argv"),
    ("run", {"argv": ["touch", "pwned"], "cwd": ".."}, "leads outside the tool's root"),
    ("run", {"argv": ["touch", "pwned"], "cwd": "out"}, "through the symbolic link 'out'"),
    ("run", {"argv": ["sleep", "1"], "timeout_s": 60}, "bad arguments for tool 'run' at /timeout_s"),
    ("run_denied", {"argv": ["touch", "pwned"]}, "run_command needs allow_shell: true in tools.yaml"),
    ("fetch", {"url": "file:///etc/passwd"}, "url must use http or https, not 'file'"),
    ("fetch_denied", {"url": "http://127.0.0.1:9/"}, "http_get needs allow_network: true in tools.yaml"),
]
# leaving the root through components that do not exist, are not directories, or are links: misuse all the same
OUT = "leads outside the tool's root"
RESOLVED_ATTACKS = [
    ("read_file", {"path": "workspace/../../outside/canary.txt"}, OUT),
    ("read_file", {"path": "a/missing/../../../outside/canary.txt"}, OUT),
    ("read_file", {"path": "top.txt/../../outside/canary.txt"}, OUT),
    ("read_file", {"path": "absin/../../../outside/canary.txt"}, OUT),
    ("read_file", {"path": "a//missing/..//../../outside/./canary.txt"}, OUT),
    ("read_file", {"path": "via_missing_out/canary.txt"}, "through the symbolic link 'via_missing_out'"),
    ("list_dir", {"path": "a/missing/../../.."}, OUT),
    ("list_dir", {"path": "missing/../../."}, OUT),
    ("list_dir", {"path": "gone_out"}, "through the symbolic link 'gone_out'"),
    ("write_file", {"path": "missing/../../outside/newdir/x.txt", "content": "pwned"}, OUT),
    ("write_file", {"path": "gone_out/new.txt", "content": "pwned"}, "through the symbolic link 'gone_out'"),
    ("run", {"argv": ["touch", "pwned"], "cwd": "a/missing/../../.."}, OUT),
]


def assert_clean(result, base, recorder) -> None:
    """The canary is nowhere the run left anything, and no ``pwned`` file exists anywhere."""
    assert CANARY not in result.trace.canonical().decode()
    assert CANARY not in json.dumps(result.error) + json.dumps(result.output)
    assert all(CANARY not in json.dumps(event.to_dict(), default=repr) for event in recorder.events)
    assert not list(base.rglob("pwned"))


@pytest.mark.parametrize(("tool", "args", "message"), ATTACKS + RESOLVED_ATTACKS,
                         ids=[f"{t}:{a}" for t, a, _ in ATTACKS + RESOLVED_ATTACKS])
def test_every_attack_from_a_handler_is_a_recorded_tool_misuse(base, event_recorder, tool, args, message):
    engine = handler_engine(base, TOOLS, ALL, plugins=[event_recorder])
    result = engine.run({"tool": tool, "args": args})
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "tool_misuse"
    assert message in result.error["message"]
    (record,) = [r for r in result.trace if r.node_id == "work"]
    assert [(c.tool_id, str(c.status)) for c in record.tool_calls] == [(tool, "failure")]
    invoked = event_recorder.of_type("tool_invoked")
    assert [(e.tool_id, e.status) for e in invoked] == [(tool, "failure")]
    assert_clean(result, base, event_recorder)


def test_a_tool_not_in_the_node_list_is_misuse_and_never_runs(base, event_recorder):
    engine = handler_engine(base, TOOLS, ["read_file"], plugins=[event_recorder])
    result = engine.run({"tool": "write_file", "args": {"path": "new.txt", "content": "pwned"}})
    assert result.error["kind"] == "tool_misuse"
    assert result.error["message"] == "node 'work' may not use tool 'write_file' (allowed: read_file)"
    assert not (base / "root" / "new.txt").exists()
    assert_clean(result, base, event_recorder)


def test_an_agent_asking_for_an_unlisted_tool_fails_the_node_and_nothing_runs(base, event_recorder):
    model = ScriptedModel(reply(None, ("c1", "write_file", {"path": "new.txt", "content": "pwned"})),
                          reply({"done": True}))
    engine = agent_engine(base, TOOLS, ["read_file"], model, plugins=(event_recorder,))
    result = engine.run({"task": "write"})
    assert result.error["kind"] == "tool_misuse"
    assert "asked for tool 'write_file', which node 'work' may not use (allowed: read_file)" in result.error["message"]
    assert not (base / "root" / "new.txt").exists()
    assert [t["name"] for t in model.requests[0].tools] == ["read_file"]
    assert_clean(result, base, event_recorder)


@pytest.mark.parametrize(("tool", "args", "message"), ATTACKS[:4] + ATTACKS[9:12] + RESOLVED_ATTACKS[:-1])
def test_an_agent_asking_to_leave_the_root_fails_the_node(base, event_recorder, tool, args, message):
    model = ScriptedModel(reply(None, ("c1", tool, args)), reply({"done": True}))
    engine = agent_engine(base, TOOLS, ALL, model, plugins=(event_recorder,))
    result = engine.run({"task": "read"})
    assert result.error["kind"] == "tool_misuse" and message in result.error["message"]
    assert len(model.requests) == 1  # the model is not asked again
    assert_clean(result, base, event_recorder)


def test_a_path_out_of_root_workspace_through_a_missing_folder_fails_the_node(tmp_path_factory, event_recorder):
    """The issue's case: ``root: ./workspace`` and ``workspace/../../secret.txt`` (no ``workspace`` inside it)."""
    tmp_path = tmp_path_factory.mktemp("project")
    (tmp_path / "workspace").mkdir()
    (tmp_path / "secret.txt").write_text(CANARY)
    tools = [{"id": "read_file", "type": "fs.read_file", "root": "./workspace"}]
    engine = handler_engine(tmp_path, tools, ["read_file"], plugins=[event_recorder])
    result = engine.run({"tool": "read_file", "args": {"path": "workspace/../../secret.txt"}})
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "tool_misuse"
    assert "path 'workspace/../../secret.txt' leads outside the tool's root" in result.error["message"]
    (record,) = [r for r in result.trace if r.node_id == "work"]
    assert str(record.status) == "failure"
    assert [(c.tool_id, str(c.status)) for c in record.tool_calls] == [("read_file", "failure")]
    assert_clean(result, tmp_path, event_recorder)


def test_an_agent_reads_inside_the_root_and_sees_the_result(base, event_recorder):
    model = ScriptedModel(reply(None, ("c1", "read_file", {"path": "in/f.txt"})), reply({"done": True}))
    engine = agent_engine(base, TOOLS, ["read_file", "list_dir"], model, plugins=(event_recorder,))
    result = engine.run({"task": "read"})
    assert result.status is Status.SUCCESS and result.output == {"done": True}
    tool_message = model.requests[1].messages[-1]
    assert json.loads(tool_message["content"]) == {
        "status": "success", "output": {"path": "a/f.txt", "text": "f inside", "size": 8, "truncated": False},
        "error": None}
    assert_clean(result, base, event_recorder)


def test_an_environment_error_goes_back_to_the_handler_which_decides(base, event_recorder):
    engine = handler_engine(base, TOOLS, ALL, plugins=[event_recorder])
    result = engine.run({"tool": "read_file", "args": {"path": "missing.txt"}})
    assert result.status is Status.SUCCESS
    assert result.output == {"status": "error", "output": None, "error": "file 'missing.txt' does not exist"}


@pytest.mark.parametrize(("entry", "message"), [
    ({"id": "t", "type": "fs.read_file"}, "tool 't': fs.read_file needs root"),
    ({"id": "t", "type": "fs.write_file", "root": "root", "config": {"max_byte": 5}},
     "fs.write_file has no config key 'max_byte' (did you mean 'max_bytes'?)"),
    ({"id": "t", "type": "fs.list_dir", "root": "root", "config": {"max_entries": "many"}},
     "config.max_entries of fs.list_dir must be an integer >= 1, not 'many'"),
    ({"id": "t", "type": "proc.run_command", "root": "root", "config": {"env": "HOME"}},
     "config.env of proc.run_command must be a list of strings"),
    ({"id": "t", "type": "net.http_get", "config": {"max_redirects": -1}},
     "config.max_redirects of net.http_get must be an integer >= 0"),
    ({"id": "t", "type": "fs.read_file", "root": "linked_root"}, "root 'linked_root' goes through a symbolic link"),
])
def test_an_unusable_entry_is_a_load_error_located_at_its_config(base, entry, message):
    (base / "linked_root").symlink_to("root")
    try:
        with pytest.raises(ManifestError) as caught:
            handler_engine(base, [entry], ["t"])
    finally:
        (base / "linked_root").unlink()
    (issue,) = [i for i in caught.value.issues if i.code == "tools.bad_config"]
    assert message in issue.message
    assert issue.file == "<tools>"
