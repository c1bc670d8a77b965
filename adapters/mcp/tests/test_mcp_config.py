"""The parts that need no server: an entry's config, the listing's pin and diff, pins written into tools.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from agent_engine_core.errors import ToolError
from agent_engine_core.secrets import Secret
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_mcp._config import SecretValue, read_config
from agent_engine_mcp._listing import Listing
from agent_engine_mcp._lock import LockError, locked_listing, pin_entries, read_lock, write_lock

STDIO = {"command": "python", "args": ["calc_server.py"]}


def secret_of(credential_id: str) -> Secret:
    if credential_id != "calc_token":
        raise ToolError(f"credential '{credential_id}' is not defined")
    return Secret("token-value-123456", origin="env:CALC_TOKEN")


def test_a_stdio_entry_reads_command_args_env_and_cwd_relative_to_the_config_dir(tmp_path):
    config = read_config({**STDIO, "env": {"MODE": "fast", "TOKEN": {"credential": "calc_token"}}, "cwd": "srv",
                          "tools": ["add"], "pin": "sha256:" + "a" * 64}, tmp_path, secret_of)
    assert (config.transport, config.command, config.args, config.cwd) == ("stdio", "python", ("calc_server.py",),
                                                                          tmp_path / "srv")
    assert config.env["MODE"] == "fast"
    token = config.env["TOKEN"]
    assert isinstance(token, SecretValue) and token.reveal() == "token-value-123456"
    assert config.secrets == (token.secret,) and "token-value" not in repr(config)
    assert config.tools == ("add",) and config.pin == "sha256:" + "a" * 64
    assert read_config(STDIO, tmp_path, None).cwd == tmp_path  # the config dir, where args are found


def test_an_http_entry_reads_its_headers_with_a_prefixed_credential(tmp_path):
    config = read_config({"url": "http://127.0.0.1:1/mcp", "headers": {
        "Authorization": {"credential": "calc_token", "prefix": "Bearer "}}}, tmp_path, secret_of)
    assert config.transport == "streamable-http" and config.describe() == "http://127.0.0.1:1/mcp"
    assert config.headers["Authorization"].reveal() == "Bearer token-value-123456"  # type: ignore[union-attr]


def test_credentials_are_left_unread_for_an_engine_that_will_not_reach_the_server(tmp_path):
    def refuse(credential_id):
        raise AssertionError("read")

    config = read_config({**STDIO, "env": {"TOKEN": {"credential": "calc_token"}, "MODE": "x"}}, tmp_path, refuse,
                         resolve_secrets=False)
    assert dict(config.env) == {"MODE": "x"}


@pytest.mark.parametrize(("config", "message"), [
    ({"comand": "python"}, "mcp has no config key 'comand' (did you mean 'command'?)"),
    ({}, "an mcp entry names one server: config.command (a stdio server) or config.url"),
    ({**STDIO, "url": "http://x/mcp"}, ", not both"),
    ({**STDIO, "headers": {}}, "config.headers does not apply to a stdio server (command)"),
    ({"url": "http://x/mcp", "cwd": "."}, "config.cwd does not apply to a streamable-HTTP server (url)"),
    ({"url": "ftp://x"}, "config.url must be an http:// or https:// URL, not 'ftp://x'"),
    ({"command": ""}, "config.command must be a non-empty string"),
    ({"command": "python", "args": "calc_server.py"}, "config.args must be a list of strings"),
    ({"command": "python", "args": [1]}, "config.args[0] must be a string, not 1"),
    ({**STDIO, "pin": "abc"}, "config.pin must be 'sha256:' and 64 hex digits"),
    ({**STDIO, "tools": ["add", "add"]}, "config.tools[1]: 'add' is listed twice"),
    ({**STDIO, "tools": ["a/b"]}, "config.tools[0]: 'a/b' cannot be part of a tool id"),
    ({**STDIO, "env": {"T": 5}}, "config.env.T must be a string or {credential: <provider_credentials id>}"),
    ({**STDIO, "env": {"T": {"credential": "calc_token", "extra": 1}}}, "config.env.T must be a string"),
    ({**STDIO, "env": {"T": {"credential": "nope"}}}, "credential 'nope' is not defined"),
    ({**STDIO, "connect_timeout_s": 0}, "config.connect_timeout_s must be a number of seconds > 0"),
])
def test_a_bad_config_is_refused_naming_the_key(tmp_path, config, message):
    with pytest.raises(ToolError) as refused:
        read_config(config, tmp_path, secret_of)
    assert message in str(refused.value)


def test_a_credential_without_a_credentials_manifest_is_refused(tmp_path):
    with pytest.raises(ToolError, match="names credential 'calc_token', but this engine reads no"):
        read_config({**STDIO, "env": {"T": {"credential": "calc_token"}}}, tmp_path, None)


TOOL = st.fixed_dictionaries({
    "name": st.text("abcdefgh_", min_size=1, max_size=6),
    "description": st.text(max_size=12),
    "inputSchema": st.fixed_dictionaries({"type": st.just("object"),
                                          "properties": st.dictionaries(st.text("xyz", min_size=1, max_size=2),
                                                                        st.just({"type": "number"}), max_size=2)}),
})
LISTINGS = st.lists(TOOL, max_size=5, unique_by=lambda t: t["name"])
INFO = {"name": "calc", "version": "1.0.0"}


@settings(max_examples=60, deadline=None)
@given(LISTINGS, st.randoms())
def test_the_pin_does_not_depend_on_the_order_the_server_lists_its_tools_in(tools, random):
    shuffled = list(tools)
    random.shuffle(shuffled)
    assert Listing.of(INFO, "2026-07-28", tools).pin == Listing.of(INFO, "2026-07-28", shuffled).pin


@settings(max_examples=60, deadline=None)
@given(LISTINGS.filter(bool), st.data())
def test_any_change_of_a_pinned_field_changes_the_pin_and_the_diff_names_it(tools, data):
    before = Listing.of(INFO, "2026-07-28", tools)
    index = data.draw(st.integers(0, len(tools) - 1))
    field = data.draw(st.sampled_from(["description", "inputSchema", "outputSchema", "version", "protocol"]))
    changed = [dict(t) for t in tools]
    info, protocol = dict(INFO), "2026-07-28"
    if field == "description":
        changed[index]["description"] += "!"
    elif field == "inputSchema":
        changed[index]["inputSchema"] = {**changed[index]["inputSchema"], "required": ["x"]}
    elif field == "outputSchema":
        changed[index]["outputSchema"] = {"type": "object"}
    elif field == "version":
        info["version"] = "1.0.1"
    else:
        protocol = "2025-11-25"
    after = Listing.of(info, protocol, changed)
    assert after.pin != before.pin
    (line,) = after.diff(before)
    name = tools[index]["name"]
    expected = {"description": f"~ tool '{name}' description:", "inputSchema": f"~ tool '{name}' inputSchema:",
                "outputSchema": f"~ tool '{name}' outputSchema: (none) -> ", "version": "server version: ",
                "protocol": "protocol version: 2026-07-28 -> 2025-11-25"}[field]
    assert line.startswith(expected)
    assert before.diff(Listing.of(INFO, "2026-07-28", list(reversed(tools)))) == []


def test_the_diff_names_added_and_removed_tools():
    before = Listing.of(INFO, "2026-07-28", [{"name": "add"}, {"name": "sub"}])
    after = Listing.of(INFO, "2026-07-28", [{"name": "add"}, {"name": "mul"}])
    assert after.diff(before) == ["+ tool 'mul' (added)", "- tool 'sub' (removed)"]


def test_the_lock_file_round_trips_and_a_listing_is_used_only_under_its_pin(tmp_path):
    listing = Listing.of(INFO, "2026-07-28", [{"name": "add", "description": "Add", "inputSchema": {}}])
    write_lock(tmp_path, {"calc": listing})
    assert read_lock(tmp_path) == {"calc": listing}
    assert locked_listing(tmp_path, "calc", listing.pin) == listing
    assert locked_listing(tmp_path, "calc", "sha256:" + "0" * 64) is None
    assert locked_listing(tmp_path, "other", listing.pin) is None
    assert read_lock(tmp_path / "nowhere") == {}


@pytest.mark.parametrize(("text", "message"), [
    ("{", "mcp.lock.json:1:2: not JSON"),
    ('{"lock_version": 7, "servers": {}}', "not an mcp lock file of version 1"),
    ('{"lock_version": 1, "servers": {"calc": {"listing": {"tools": 3}}}}', "servers.calc: a listing has"),
])
def test_a_broken_lock_file_is_refused_with_its_place(tmp_path, text, message):
    (tmp_path / "mcp.lock.json").write_text(text)
    with pytest.raises(LockError) as refused:
        read_lock(tmp_path)
    assert message in str(refused.value)


PIN_A, PIN_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def test_a_pin_is_added_to_block_and_flow_configs_and_replaced_where_it_is_with_comments_kept():
    text = """\
# the project's tools
tools:
  - id: files            # not an mcp entry
    type: fs.read_file
  - id: calc
    type: mcp
    config:
      command: python    # the interpreter on PATH
      args: [calc_server.py]
  - {id: web, type: mcp, config: {url: "http://127.0.0.1:1/mcp"}}
  - id: old
    type: mcp
    config: {command: python, pin: "sha256:%s"}
""" % ("c" * 64)
    edited = pin_entries(text, {1: PIN_A, 2: PIN_B, 3: PIN_A})
    assert "# the project's tools" in edited and "# the interpreter on PATH" in edited and "# not an mcp" in edited
    entries = yaml.safe_load(edited)["tools"]
    assert [e.get("config", {}).get("pin") for e in entries] == [None, PIN_A, PIN_B, PIN_A]
    before = yaml.safe_load(text)["tools"]
    for old, new in zip(before, entries, strict=True):
        assert {k: v for k, v in new.get("config", {}).items() if k != "pin"} == \
               {k: v for k, v in old.get("config", {}).items() if k != "pin"}
    assert f'      pin: "{PIN_A}"\n      command: python' in edited
    assert f'{{url: "http://127.0.0.1:1/mcp", pin: "{PIN_B}"}}' in edited


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=5), st.data())
def test_pinning_any_entries_changes_nothing_but_their_pins(shapes, data):
    lines = ["tools:"]
    for index, (flow, pinned) in enumerate(shapes):
        pin = f', pin: "{PIN_B}"' if pinned else ""
        if flow:
            lines.append(f"  - {{id: e{index}, type: mcp, config: {{command: python{pin}}}}}  # entry {index}")
        else:
            lines += [f"  - id: e{index}", "    type: mcp", "    config:", "      command: python",
                      *([f'      pin: "{PIN_B}"'] if pinned else [])]
    text = "\n".join(lines) + "\n"
    chosen = data.draw(st.sets(st.integers(0, len(shapes) - 1), min_size=1))
    edited = pin_entries(text, dict.fromkeys(chosen, PIN_A))
    before, after = yaml.safe_load(text)["tools"], yaml.safe_load(edited)["tools"]
    for index, (old, new) in enumerate(zip(before, after, strict=True)):
        expected = PIN_A if index in chosen else old["config"].get("pin")
        assert new["config"].get("pin") == expected
        assert {k: v for k, v in new["config"].items() if k != "pin"} == {"command": "python"}
    assert all(f"# entry {i}" in edited for i, (flow, _) in enumerate(shapes) if flow)


def test_an_entry_without_a_config_mapping_cannot_be_pinned():
    with pytest.raises(LockError, match=r"tools\[0\] has no config mapping"):
        pin_entries("tools:\n  - {id: calc, type: mcp}\n", {0: PIN_A})


def test_lock_listings_are_json_the_way_they_are_hashed(tmp_path):
    listing = Listing.of(INFO, "2026-07-28", [{"name": "add", "description": "Ajouter é", "inputSchema": {}}])
    path = write_lock(tmp_path, {"calc": listing})
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    assert document["servers"]["calc"]["pin"] == listing.pin
    assert Listing.from_document(document["servers"]["calc"]["listing"]).pin == listing.pin
