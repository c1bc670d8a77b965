"""A key handed to an MCP server never reaches a result, a trace, an event, a log line, a file or the CLI's output.

The key is the session's canary (``secret_ledger``), read through provider_credentials.yaml into the server's
``env``. The calc server misbehaves on purpose: ``whoami`` answers with the key, ``crash`` writes it to stderr
before it dies. What comes back is redacted, and the ledger (checked again when the session ends, with every
file under the session's temporary folder) finds the key nowhere.
"""

from __future__ import annotations

import json
import types

import pytest
from _mcp_kit import write_project
from agent_engine_core import Engine, hookimpl
from agent_engine_core.cli import main
from agent_engine_core.secrets import REDACTED
from agent_engine_core.testing import CANARY_ENV, SecretLedger
from click.testing import CliRunner

pytestmark = pytest.mark.usefixtures("only_this_distribution", "cli_logging_restored")

CREDENTIALS = ("provider_credentials:\n  - id: calc_token\n    provider: mcp\n"
               f"    auth: {{type: api_key, source: env, env_var: {CANARY_ENV}}}\n")
CALLS = {"calls": [["calc.whoami", {}], ["calc.crash", {}], ["calc.add", {"a": 1, "b": 2}]]}


def test_a_key_in_env_is_redacted_from_what_the_server_sends_back_and_leaks_nowhere(tmp_path, ledger: SecretLedger):
    config = {"command": "python", "args": ["calc_server.py"], "tools": ["whoami", "crash", "add"],
              "env": {"CALC_SECRET": {"credential": "calc_token"}}}
    project = write_project(tmp_path / "p", config=config, handler="nodes:call",
                            node_tools=("calc.whoami", "calc.crash", "calc.add"),
                            files={"provider_credentials.yaml": CREDENTIALS})
    events: list[dict] = []
    observer = types.SimpleNamespace(on_event=hookimpl(lambda event: events.append(event.to_dict())))
    with Engine.from_config_dir(project, plugins=[observer], runs=False) as engine:
        result = engine.run(CALLS)
    whoami, crash, add = result.output["results"]
    assert whoami["output"] == f"calc, holding the token {REDACTED}"  # the server had the key: it echoed it
    assert crash["status"] == "error" and f"crashing on purpose; token {REDACTED}" in crash["error"]
    assert add["output"] == {"sum": 3}
    ledger.servers_that_saw_it.add("mcp")
    ledger.add(result.to_dict(with_trace=True), result.trace.canonical().decode(), json.dumps(events), repr(result))

    recording = tmp_path / "run.json"
    runner = CliRunner()
    ran = runner.invoke(main, ["run", str(project), "--input", json.dumps(CALLS), "--json", "--record",
                               str(recording), "-vv"])
    listed = runner.invoke(main, ["mcp", "list", str(project), "--json"])
    ledger.add(ran.output, listed.output)
    assert ran.exit_code == 0 and listed.exit_code == 0, (ran.output, listed.output)
    assert REDACTED in ran.output and ledger.canary not in recording.read_text()
    assert ledger.leaks(tmp_path) == []
