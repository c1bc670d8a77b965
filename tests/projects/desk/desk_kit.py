"""What the provider adapters' end-to-end tests share: the desk project on a live provider, and its tools.

An adapter's test loads this file by path (``load_desk_kit()`` in its test module), copies the project with
``live_copy`` -- which changes only agents.yaml's ``llm`` line and adds a provider_credentials.yaml entry, as a
user switching from the scripted provider would -- and runs it with ``tools()`` as an explicit plugin.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from agent_engine_core import Engine, Status, TaskResult
from agent_engine_core.cli import main
from agent_engine_core.testing import CANARY_ENV, EventRecorder, FunctionTool, SecretLedger, ToolPack

HERE = Path(__file__).resolve().parent
HELLO = HERE.parents[2] / "examples" / "hello"
TICKET = {"text": "Please refund my two charges.", "amounts": [12.5, 7.5]}


def tools() -> ToolPack:
    """Fresh ``demo.add`` and ``demo.upper`` tool types (each records the calls it runs)."""
    number = {"type": "number"}
    return ToolPack({
        "demo.add": FunctionTool("Adds a and b.", {"type": "object", "properties": {"a": number, "b": number},
                                                   "required": ["a", "b"], "additionalProperties": False},
                                 lambda args: args["a"] + args["b"]),
        "demo.upper": FunctionTool("Upper-cases text.", {"type": "object", "properties": {"text": {"type": "string"}},
                                                        "required": ["text"]},
                                   lambda args: args["text"].upper()),
    })


def run_once(project: Path, ledger: SecretLedger, **plugins_and_run_id: Any) -> TaskResult:
    """One run of the desk project on ``TICKET`` with fresh tools, its result and trace handed to the ledger."""
    plugins = plugins_and_run_id.pop("plugins", None) or [tools()]
    with Engine.from_config_dir(project, plugins=plugins) as engine:
        result = engine.run(TICKET, **plugins_and_run_id)
    ledger.add(json.dumps(result.to_dict(with_trace=True)), result.error)
    return result


def run_and_check_desk(project: Path, ledger: SecretLedger, provider: str, call_ids: tuple[str, str]) -> TaskResult:
    """Run the desk project on a live provider scripted to take the billing path, check everything that does not
    depend on the provider's wire format, and replay the run offline to the same digest."""
    pack, recorder = tools(), EventRecorder()
    result = run_once(project, ledger, plugins=[pack, recorder], run_id="desk-live")
    ledger.add(*(e.to_dict() for e in recorder.events))
    assert result.status is Status.SUCCESS, result.error
    assert result.output == {"title": "Refund", "words": 2}
    assert [r.node_id for r in result.trace] == ["intake", "triage", "billing", "summarize", "done"]
    assert dict(result.usage) == {"agent_calls": 4, "input_tokens": 200, "output_tokens": 33}
    assert pack.tools["demo.add"].calls == [{"a": 12.5, "b": 7.5}]
    assert pack.tools["demo.upper"].calls == [{"text": "refund approved"}]
    billing = next(r for r in result.trace if r.node_id == "billing")
    assert [(c.tool_id, c.call_id, c.result.output) for c in billing.tool_calls] == [
        ("add", call_ids[0], 20.0), ("shout", call_ids[1], "REFUND APPROVED")]
    assert [e.tool_id for e in recorder.of_type("tool_invoked")] == ["add", "shout"]
    agent = result.metadata["agents"]["desk"]
    assert (agent["provider"], agent["model"], agent["sdk"]) == (provider, "desk-1", provider)
    assert agent["distribution"] == f"agent-engine-{provider}" and agent["sdk_version"]
    with Engine.from_config_dir(project, plugins=[tools()]) as engine:
        assert engine.replay(result.trace).trace.digest == result.trace.digest  # offline: no provider call
    return result


def live_copy(destination: Path, provider: str, base_url: str, model: str = "desk-1", *,
              project: Path = HERE) -> Path:
    """``project`` copied to ``destination`` with its agent on ``<provider>/<model>``, keyed by the canary."""
    copied = Path(shutil.copytree(project, destination, ignore=shutil.ignore_patterns("desk_kit.py", "__pycache__")))
    agents = copied / "agents.yaml"
    lines = agents.read_text(encoding="utf-8").splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if line.strip().startswith("llm:")]
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = f'{indent}llm: "{provider}/{model}"\n'
    agents.write_text("".join(lines), encoding="utf-8")
    (copied / "provider_credentials.yaml").write_text(
        "provider_credentials:\n"
        f"  - id: {provider}_test\n"
        f"    provider: {provider}\n"
        f"    auth: {{type: api_key, source: env, env_var: {CANARY_ENV}}}\n"
        f'    config: {{base_url: "{base_url}"}}\n',
        encoding="utf-8",
    )
    return copied


def changed_files(original: Path, copied: Path) -> dict[str, Any]:
    """The files of ``copied`` that differ from ``original`` (or are new): what switching provider took."""
    changed = {}
    for path in sorted(p for p in copied.rglob("*") if p.is_file()):
        before = original / path.relative_to(copied)
        if not before.exists() or before.read_bytes() != path.read_bytes():
            changed[str(path.relative_to(copied))] = path.read_text(encoding="utf-8")
    return changed


def run_hello_cli(destination: Path, provider: str, base_url: str, model: str, ledger: SecretLedger) -> dict[str, Any]:
    """examples/hello switched to ``<provider>/<model>`` and run with ``agent-engine run --json``: the result.

    Asserts that switching took only the llm line and a credential, and that the command succeeded; its output
    goes to the ledger.
    """
    project = live_copy(destination, provider, base_url, model, project=HELLO)
    assert set(changed_files(HELLO, project)) == {"agents.yaml", "provider_credentials.yaml"}
    ran = CliRunner().invoke(main, ["run", str(project), "--input", '{"request": "Hello there!"}', "--json"])
    ledger.add(ran.output)
    assert ran.exit_code == 0, ran.output
    result: dict[str, Any] = json.loads(ran.output)
    assert result["status"] == "success" and result["usage"]["agent_calls"] == 1
    assert result["metadata"]["agents"]["router"]["model"] == model
    return result
