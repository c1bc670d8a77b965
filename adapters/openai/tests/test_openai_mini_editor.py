"""examples/mini_editor on ``openai/...``: the official SDK against the local fake server, one agents.yaml line changed.

The other change is where the server is (the credential's ``base_url``); the workflow, the prompt, the tools
and the schemas are the example's own. The model's answers are scripted on the fake server: a tool call that
writes the draft, the document, then the summary.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _fake_openai import FakeOpenAI
from agent_engine_core import Engine, Status

pytest.importorskip("agent_engine_tools_std", reason="the mini editor's file tools are agent-engine-tools-std's")
pytest.importorskip("agent_engine_memory_sqlite", reason="the mini editor keeps its documents in SQLite")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mini_editor"
DRAFT = "# Tides\n\n## What they are\n\nThe twice-daily rise and fall of the sea.\n\n## Why\n\nThe moon's pull.\n"


def live_editor(tmp_path: Path, base_url: str) -> Path:
    root = Path(shutil.copytree(EXAMPLE, tmp_path / "mini_editor", ignore=shutil.ignore_patterns(".agent_engine",
                                                                                                "*.md")))
    agents = root / "config" / "agents.yaml"
    text = agents.read_text(encoding="utf-8")
    assert text.count("llm: scripted/editor\n") == 1
    agents.write_text(text.replace("llm: scripted/editor\n", 'llm: "openai/gpt-4o-mini"\n'), encoding="utf-8")
    credentials = root / "config" / "provider_credentials.yaml"
    credentials.write_text(credentials.read_text(encoding="utf-8").replace("https://api.openai.com/v1", base_url),
                           encoding="utf-8")
    return root


def for_node(node: str):
    return lambda body: json.loads(body["messages"][1]["content"])["node"] == node


def test_the_mini_editor_drafts_through_the_openai_sdk_after_one_line_changed(tmp_path, server: FakeOpenAI,
                                                                              api_key, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", api_key)
    root = live_editor(tmp_path, server.base_url)
    server.reply_chat(None, tool_calls=[{"id": "call_w", "name": "write_file",
                                         "arguments": {"path": "tides.md", "content": DRAFT}}],
                      when=for_node("draft_document"), usage=(120, 40))
    server.reply_chat(json.dumps({"path": "tides.md", "mode": "create", "title": "Tides", "tone": "neutral",
                                  "content": DRAFT}), when=for_node("draft_document"), usage=(160, 60))
    server.reply_chat(json.dumps({"path": "tides.md", "mode": "create", "title": "Tides", "length": 18,
                                  "sections": ["What they are", "Why"], "tone": "neutral"}),
                      when=for_node("generate_summary"), usage=(90, 20))
    with Engine.from_config_dir(root / "config", runs=False) as engine:
        result = engine.run({"request": "Write a short note about tides"})
    assert result.status is Status.SUCCESS, result.error
    assert result.output == {"path": "tides.md", "mode": "create", "title": "Tides", "length": 18,
                             "sections": ["What they are", "Why"], "tone": "neutral"}
    assert (root / "workspace" / "tides.md").read_text(encoding="utf-8") == DRAFT  # the model's tool call
    assert result.usage == {"agent_calls": 3, "input_tokens": 370, "output_tokens": 120}
    bodies = [r.body for r in server.requests]
    assert all(r.authorized for r in server.requests) and len(bodies) == 3
    assert [t["function"]["name"] for t in bodies[0]["tools"]] == ["read_file", "write_file"]
    assert bodies[0]["response_format"]["json_schema"]["schema"]["required"] == ["path", "mode", "title", "tone",
                                                                                  "content"]
    assert all("tool_calls" not in b and "responses" not in b and b["temperature"] == 0.3 for b in bodies)
    assert bodies[0]["model"] == "gpt-4o-mini"
