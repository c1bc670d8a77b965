"""examples/approval as docs/DURABLE_RUNS.md walks through it: on the command line, exit codes included.

A refund waits at the ``review`` gate (exit 4), is approved, waits again for the ``write_payout`` tool call
(exit 4), is approved and pays; a wrong fingerprint is refused (exit 2); a replay reproduces the digest; a
resume after a handler module changed is refused naming it, and ``--allow-changed`` proceeds and says so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _cli import cli_logging_restored  # noqa: F401 - a fixture, used through pytestmark
from click.testing import CliRunner

from agent_engine_core.cli import main

pytest.importorskip("agent_engine_memory_sqlite", reason="the example journals in SQLite")
pytest.importorskip("agent_engine_tools_std", reason="the example's payout is written by fs.write_file")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "approval"
pytestmark = pytest.mark.usefixtures("cli_logging_restored")
REQUEST = '{"order": "A-1001", "amount": 42.5, "reason": "damaged"}'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "approval", ignore=shutil.ignore_patterns(".agent_engine",
                                                                                              "payouts")))


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_refund_waits_twice_and_pays_once_approved(project: Path):
    code, out, _ = _cli("run", str(project), "--input", REQUEST, "--run-id", "refund-1")
    assert code == 4
    assert "waiting for approval: run refund-1 task refund-1 node 'review'" in out
    assert "Refund this order?" in out

    code, out, _ = _cli("runs", str(project), "--waiting", "--json")
    (waiting,) = json.loads(out)
    (pending,) = waiting["approvals"]
    assert (waiting["run_id"], pending["node_id"], pending["input"]["order"]) == ("refund-1", "review", "A-1001")

    code, out, _ = _cli("approve", str(project), "refund-1", "--node", "review", "--approve", "--by", "alice",
                        "--input", REQUEST, "--json")
    assert code == 4
    (tool_call,) = json.loads(out)["metadata"]["approvals"]
    assert (tool_call["target"], tool_call["tool_id"]) == ("tool", "write_payout")
    assert tool_call["arguments"] == {"path": "payouts/A-1001.txt", "content": "refund 42.5 EUR to order A-1001\n"}
    assert not (project / "payouts").exists()

    code, _, err = _cli("approve", str(project), "refund-1", "--node", "pay", "--approve", "--fingerprint", "0" * 64)
    assert code == 2 and "not what waits at 'pay'" in err

    code, out, _ = _cli("approve", str(project), "refund-1", "--node", "pay", "--approve", "--by", "bob",
                        "--fingerprint", tool_call["fingerprint"], "--json")
    assert code == 0
    done = json.loads(out)
    assert done["output"] == {"order": "A-1001", "payout": "payouts/A-1001.txt"}
    assert (project / "payouts" / "A-1001.txt").read_text() == "refund 42.5 EUR to order A-1001\n"
    assert _cli("runs", str(project), "--waiting")[1].strip() == "no run waits for an approval"

    code, out, _ = _cli("replay", str(project), "refund-1")
    assert code == 0 and f"digest: {done['trace_digest']}" in out


def test_a_rejected_refund_fails_with_kind_approval(project: Path):
    _cli("run", str(project), "--input", REQUEST, "--run-id", "refund-2")
    code, _, err = _cli("approve", str(project), "refund-2", "--node", "review", "--reject")
    assert code == 2 and "--reject needs --reason" in err
    code, out, _ = _cli("approve", str(project), "refund-2", "--node", "review", "--reject", "--reason",
                        "not our order", "--json")
    assert code == 1
    assert json.loads(out)["error"]["kind"] == "approval"


def test_a_resume_after_a_handler_module_changed_is_refused_unless_allowed(project: Path):
    _cli("run", str(project), "--input", REQUEST, "--run-id", "refund-3")
    handlers = project / "refunds.py"
    handlers.write_text(handlers.read_text() + "\n# edited after the run was journaled\n")
    code, _, err = _cli("approve", str(project), "refund-3", "--node", "review", "--approve")
    assert code == 2 and "refunds.py changed" in err
    code, _, err = _cli("resume", str(project), "refund-3")
    assert code == 2 and "refunds.py changed" in err
    code, out, _ = _cli("approve", str(project), "refund-3", "--node", "review", "--approve", "--allow-changed",
                        "--json")
    assert code == 4
    assert json.loads(out)["metadata"]["resumed"] == {"changed": ["refunds.py"], "allow_changed": True}
