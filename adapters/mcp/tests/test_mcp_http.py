"""The mcp tool type over streamable HTTP: the calc server in a process of its own on 127.0.0.1, for the session."""

from __future__ import annotations

import pytest
from _mcp_kit import stage, starts, write_project
from agent_engine_core import Engine, ManifestError, Status
from agent_engine_core.testing import CANARY_ENV, SecretLedger

pytestmark = pytest.mark.usefixtures("only_this_distribution")

CREDENTIALS = ("provider_credentials:\n  - id: calc_http\n    provider: mcp\n"
               "    auth: {type: api_key, source: env, env_var: %s}\n")


def http_project(tmp_path, url: str, env_var: str = CANARY_ENV):
    config = {"url": url, "tools": ["add"],
              "headers": {"Authorization": {"credential": "calc_http", "prefix": "Bearer "}}}
    return write_project(tmp_path / "p", config=config, files={"provider_credentials.yaml": CREDENTIALS % env_var})


def test_a_streamable_http_server_is_reached_with_a_header_from_a_credential(tmp_path, http_server,
                                                                             ledger: SecretLedger):
    before = starts(http_server.starts)
    project = http_project(tmp_path, http_server.url)
    with Engine.from_config_dir(project, runs=False) as engine:
        first = engine.run({"start": 0})
        second = engine.run({"start": 1})
    ledger.add(first.to_dict(with_trace=True), second.to_dict(with_trace=True))
    assert first.status is Status.SUCCESS and second.status is Status.SUCCESS, (first.error, second.error)
    assert (first.output, second.output) == ({"total": 45}, {"total": 46})
    described = first.metadata["tools"]["calc"]
    assert described["transport"] == "streamable-http" and dict(described["server"])["name"] == "calc"
    assert [c.to_dict()["meta"]["pin"] for c in stage(first, "work").tool_calls] == [described["pin"]] * 10
    assert starts(http_server.starts) == before == 1  # one server process for every session of the suite
    stdio = write_project(tmp_path / "stdio")
    with Engine.from_config_dir(stdio, runs=False) as over_stdio:
        assert over_stdio.metadata["tools"]["calc"]["pin"] == described["pin"]  # the same server, the same pin


def test_a_refused_token_is_a_load_error_that_does_not_show_the_token(tmp_path, http_server, monkeypatch,
                                                                    ledger: SecretLedger):
    monkeypatch.setenv("CALC_WRONG_TOKEN", "wrong-token-4f1d9a7c2e")
    project = http_project(tmp_path, http_server.url, "CALC_WRONG_TOKEN")
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(project, runs=False)
    (issue,) = caught.value.issues
    ledger.add(str(caught.value))
    assert issue.message.startswith(f"tool 'calc': cannot list the tools of MCP server 'calc' ({http_server.url}): ")
    assert "401" in issue.message and "wrong-token-4f1d9a7c2e" not in str(caught.value)
