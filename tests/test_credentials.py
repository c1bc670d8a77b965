"""provider_credentials.yaml and the Secret type: resolution, binding to agents, errors that never hold a value."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
import structlog
from _agent_kit import Script, agent_engine, reply

from agent_engine_core import ManifestError, hookimpl
from agent_engine_core.events import CredentialLoaded
from agent_engine_core.secrets import Secret, redact
from agent_engine_core.testing import CANARY_ENV

KEY = "sk-test-0123456789abcdef"


def creds(*entries):
    return {"provider_credentials": {"provider_credentials": list(entries)}}


def entry(cid="main", provider="scriptable", **auth):
    return {"id": cid, "provider": provider, "auth": auth or {"source": "env", "env_var": "AE_TEST_KEY"},
            "config": {"base_url": "http://127.0.0.1:9/v1", "default_model": "m-default"}}


def bound_credential(script):
    (setup,) = script.setups
    return setup.credential


def load_error(**kwargs):
    with pytest.raises(ManifestError) as caught:
        agent_engine(Script(reply({})), **kwargs)
    return caught.value


def test_an_env_credential_is_bound_to_the_only_agent_of_its_provider(monkeypatch):
    monkeypatch.setenv("AE_TEST_KEY", KEY)
    script = Script(reply({}))
    agent_engine(script, **creds(entry()))
    credential = bound_credential(script)
    assert credential.api_key.reveal() == KEY
    assert credential.base_url == "http://127.0.0.1:9/v1"
    assert credential.api_key.origin == "env:AE_TEST_KEY"


def test_a_missing_variable_is_named_and_never_valued(monkeypatch):
    monkeypatch.delenv("AE_TEST_KEY", raising=False)
    error = load_error(**creds(entry()))
    (issue,) = error.issues
    assert issue.code == "credentials.unresolved"
    assert "AE_TEST_KEY" in issue.message and issue.hint.startswith("export AE_TEST_KEY")


@pytest.mark.parametrize(("name", "content", "file_key"), [
    ("key.txt", f"{KEY}\n", None),
    ("key.json", json.dumps({"openai": {"api_key": KEY}}), "openai.api_key"),
    ("key.yaml", f"openai:\n  api_key: {KEY}\n", "openai.api_key"),
])
def test_key_files_in_text_json_and_yaml(tmp_path, name, content, file_key):
    path = tmp_path / name
    path.write_text(content)
    path.chmod(0o600)
    script = Script(reply({}))
    auth = {"source": "file", "file_path": str(path), **({"file_key": file_key} if file_key else {})}
    with structlog.testing.capture_logs() as logs:
        agent_engine(script, **creds(entry(**auth)))
    assert bound_credential(script).api_key.reveal() == KEY
    assert logs == []  # a 0600 file raises no warning


def test_a_group_readable_key_file_is_warned_about(tmp_path):
    path = tmp_path / "key.txt"
    path.write_text(KEY)
    path.chmod(0o644)
    with structlog.testing.capture_logs() as logs:
        agent_engine(Script(reply({})), **creds(entry(source="file", file_path=str(path))))
    (warning,) = logs
    assert warning["log_level"] == "warning" and warning["hint"] == f"chmod 600 {path}"
    assert KEY not in repr(warning)


@pytest.mark.parametrize(("name", "content", "file_key", "expected"), [
    ("key.json", json.dumps({"other": KEY}), "openai.api_key", "has no key 'openai.api_key'"),
    ("key.json", '{"api_key": "' + KEY + '", oops}', "api_key", "is not valid JSON (line 1"),
    ("key.yaml", f"api_key: [{KEY}\n", "api_key", "is not valid YAML"),
    ("key.txt", KEY, "api_key", "has no key 'api_key'"),
    ("key.json", json.dumps({"api_key": 42}), "api_key", "is not a string"),
])
def test_unusable_key_files_are_located_errors_that_never_quote_the_file(tmp_path, name, content, file_key, expected):
    path = tmp_path / name
    path.write_text(content)
    path.chmod(0o600)
    error = load_error(**creds(entry(source="file", file_path=str(path), file_key=file_key)))
    (issue,) = error.issues
    assert expected in issue.message
    assert KEY not in str(error) and KEY not in repr(error.issues)


def test_a_missing_key_file_is_named(tmp_path):
    (issue,) = load_error(**creds(entry(source="file", file_path="nowhere/key.txt"))).issues
    assert "nowhere/key.txt" in issue.message and issue.code == "credentials.unresolved"


def test_credential_references_are_checked(monkeypatch):
    monkeypatch.setenv("AE_TEST_KEY", KEY)
    (unknown,) = load_error(agent_fields={"credential": "mian"}, **creds(entry())).issues
    assert unknown.code == "agents.unknown_credential" and unknown.hint == "did you mean 'main'?"
    (mismatch,) = load_error(agent_fields={"credential": "main"}, **creds(entry(provider="openai"))).issues
    assert "is for 'openai'" in mismatch.message
    (ambiguous,) = load_error(**creds(entry("a"), entry("b"))).issues
    assert "several credentials (a, b)" in ambiguous.message and ambiguous.hint == "name one with credential: <id>"


def test_an_agent_names_one_of_several_credentials_and_can_ask_for_the_default_model(monkeypatch):
    monkeypatch.setenv("AE_TEST_KEY", KEY)
    script = Script(reply({}))
    engine, _ = agent_engine(script, agent_fields={"credential": "b", "llm": "scriptable/default"},
                             **creds(entry("a"), entry("b")))
    assert bound_credential(script).id == "b"
    assert script.setups[0].model == "m-default"
    assert engine.run({}).metadata["agents"]["bot"]["model"] == "m-default"


def test_unused_credentials_are_not_resolved(monkeypatch):
    monkeypatch.delenv("UNSET_KEY", raising=False)
    agent_engine(Script(reply({})), **creds(entry(provider="other", source="env", env_var="UNSET_KEY")))


class Recorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def on_event(self, event):
        self.events.append(event)


@pytest.mark.parametrize("source", ["env", "file"])
def test_each_run_announces_the_credentials_read_at_load_as_metadata_only(secret_ledger, tmp_path, source):
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps({"llm": {"api_key": secret_ledger.canary}}))
    key_file.chmod(0o600)
    auth = ({"source": "env", "env_var": CANARY_ENV} if source == "env" else
            {"source": "file", "file_path": str(key_file), "file_key": "llm.api_key"})
    recorder = Recorder()
    engine, _ = agent_engine(Script(reply({}), reply({})), plugins=(recorder,),
                             **creds(entry("main", **auth), entry("unused", provider="other")))
    key_file.unlink()  # read at load; the session's check of its files must not find the canary where it was put
    first, second = engine.run({}), engine.run({})
    events = [e for e in recorder.events if e.type == "credential_loaded"]
    assert [(e.run_id, e.task_id, e.credential_id, e.provider, e.source) for e in events] == [
        (run.task_id, run.task_id, "main", "scriptable", source) for run in (first, second)]  # never 'unused'
    assert all(isinstance(e, CredentialLoaded) for e in events)
    for run in (first, second):
        started, loaded = [e for e in recorder.events if e.run_id == run.task_id][:2]
        assert (started.type, loaded.type, loaded.seq) == ("task_started", "credential_loaded", started.seq + 1)
    assert set(events[0].to_dict()) == {"type", "run_id", "task_id", "seq", "timestamp", "credential_id",
                                        "provider", "source"}
    secret_ledger.add(*recorder.events, *(e.to_dict() for e in recorder.events))
    assert not any(secret_ledger.canary in f"{e!r} {e.to_dict()}" for e in recorder.events)


def test_a_secret_never_shows_its_value():
    secret = Secret(KEY, origin="env:X")
    shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret, "{}".format(secret)]  # noqa: UP031, UP032
    assert all(KEY not in text for text in shown)
    for leak in (pickle.dumps, copy.deepcopy, copy.copy, json.dumps):
        with pytest.raises(TypeError):
            leak(secret)
    with pytest.raises(AttributeError):
        secret._value = "x"
    assert secret != Secret(KEY, origin="env:X")  # no equality oracle for the value
    assert redact(f"bad key {KEY}!", [secret]) == "bad key ********!"


def test_a_provider_error_echoing_the_key_is_redacted_everywhere(monkeypatch):
    monkeypatch.setenv("AE_TEST_KEY", KEY)
    from agent_engine_core import ProviderError

    script = Script(ProviderError(f"401: Incorrect API key provided: {KEY}", status=401))
    engine, _ = agent_engine(script, **creds(entry()))
    result = engine.run({})
    assert result.error["kind"] == "agent"
    assert "********" in result.error["message"]
    everything = json.dumps(result.to_dict()) + result.trace.canonical().decode() + json.dumps(result.trace.to_dict())
    assert KEY not in everything
