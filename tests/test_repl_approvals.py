"""The REPL shows what a waiting run waits for and decides it with ``/approve`` and ``/reject``."""

from __future__ import annotations

from pathlib import Path

import pytest
from _cli import cli_logging_restored  # noqa: F401 - fixture
from click.testing import CliRunner

from agent_engine_core.cli import main

pytest.importorskip("agent_engine_memory_sqlite", reason="the project journals in SQLite")

pytestmark = pytest.mark.usefixtures("cli_logging_restored")


@pytest.fixture
def gated(tmp_path: Path) -> Path:
    project = tmp_path / "gated"
    project.mkdir()
    (project / "workflow.yaml").write_text(
        'version: "1.0"\n'
        "nodes:\n"
        "  - {id: intake, role: start}\n"
        "  - {id: publish, role: linear, approval: {prompt: Publish this text?}}\n"
        "  - {id: done, role: exit}\n"
        "edges:\n"
        "  - {from: intake, to: publish}\n"
        "  - {from: publish, to: done}\n", encoding="utf-8")
    (project / "memory.yaml").write_text("runs: {backend: sqlite, durability: stage}\n", encoding="utf-8")
    return project


def test_a_waiting_run_is_shown_and_approve_and_reject_decide_it(gated: Path, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lines = ["hello there", "/approvals", "/approve", "second text", "/reject publish not today", "/approvals",
             "/approve"]
    result = CliRunner().invoke(main, ["repl", str(gated)], input="".join(f"{line}\n" for line in lines))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "#1 waiting" in out
    assert "node 'publish' · input {\"input\": \"hello there\"}" in out and "Publish this text?" in out
    assert "#2 success" in out and '"input": "hello there"' in out
    assert "#3 waiting" in out
    assert "#4 failure" in out and "[approval] at node 'publish'" in out and "not today" in out
    assert out.count("no run waits for an approval") == 2  # /approvals after the decisions, and /approve
