"""A persistent run store, a tool-calling provider and a project on disk, for the inspector CLI's tests.

``PLUGIN`` registers run store ``files`` (every run in one JSON file under ``.agent_engine/``, rewritten
atomically), provider ``toolbot`` (asks tool ``shout`` once, then answers with its result) and tool type
``kit.shout``. Another process finds it through ``install_entry_point``: a ``.dist-info`` folder whose entry
point names this module, put on ``PYTHONPATH`` with the tests folder.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_engine_core import hookimpl
from agent_engine_core.llm import LlmReply, LlmRequest, ProviderSetup, ToolCall
from agent_engine_core.runs import RunStoreSetup, RunSummary, StoredRun, select_runs
from agent_engine_core.tools import ToolResult, ToolSetup

STORE_FILE = Path(".agent_engine") / "inspect-kit-runs.json"


class FileRunStore:
    """Run store ``files``: one JSON file, replaced whole on every write (a reader sees all of a write or none)."""

    def __init__(self, setup: RunStoreSetup) -> None:
        if setup.base_dir is None:
            raise ValueError("the files run store needs a config dir")
        self._path = setup.base_dir / STORE_FILE
        self._bound = setup.max_runs or 10_000
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data

    def write(self, runs: Sequence[StoredRun]) -> None:
        with self._lock:
            kept = self._load()
            for run in runs:
                kept.pop(run.run_id, None)
                kept[run.run_id] = {"summary": run.summary.to_dict(), "document": run.document_json}
            for run_id in list(kept)[:max(0, len(kept) - self._bound)]:
                del kept[run_id]
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=self._path.parent, delete=False) as out:
                json.dump(kept, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(out.name, self._path)

    def runs(self, *, status: str | None = None, since: float | None = None,
             limit: int | None = None) -> list[RunSummary]:
        summaries = [RunSummary.from_dict(entry["summary"]) for entry in self._load().values()]
        return select_runs(summaries, status=status, since=since, limit=limit)

    def get(self, run_id: str) -> StoredRun | None:
        entry = self._load().get(run_id)
        return None if entry is None else StoredRun(RunSummary.from_dict(entry["summary"]), entry["document"])

    def close(self) -> None:
        """Nothing stays open between calls."""


class ToolBot:
    """Asks for ``shout`` with the user's ``topic`` first; once the tool answered, replies ``{"answer": ...}``."""

    def __init__(self, setup: ProviderSetup) -> None:
        self.model = setup.model

    async def complete(self, request: LlmRequest) -> LlmReply:
        usage = {"input_tokens": 12, "output_tokens": 4}
        last = request.messages[-1]
        if last["role"] == "tool":
            return LlmReply(content=json.dumps({"answer": json.loads(last["content"])}), model=self.model,
                            usage=usage)
        topic = json.loads(request.messages[0]["content"])["input"]["topic"]
        return LlmReply(content="", model=self.model, usage=usage,
                        tool_calls=(ToolCall("call-1", "shout", {"text": topic}),))

    def check(self, node_ids: Any) -> list[str]:
        return []

    def describe(self) -> dict[str, str]:
        return {"sdk": "toolbot", "sdk_version": "1.0"}


class Shout:
    """Tool type ``kit.shout``: the text upper-cased."""

    description = "upper-cases text"
    parameters: Mapping[str, Any] = {"type": "object", "properties": {"text": {"type": "string"}},
                                     "required": ["text"]}

    def __init__(self, setup: ToolSetup) -> None:
        self.id = setup.spec.id

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        return ToolResult.ok(str(arguments["text"]).upper())


class InspectKit:
    """The plugin: run store ``files``, provider ``toolbot``, tool type ``kit.shout``."""

    @hookimpl
    def register_run_stores(self, register: Any) -> None:
        register("files", FileRunStore)

    @hookimpl
    def register_llm_providers(self, register: Any) -> None:
        register("toolbot", ToolBot)

    @hookimpl
    def register_tools(self, register: Any) -> None:
        register("kit.shout", Shout)


PLUGIN = InspectKit()


def install_entry_point(folder: Path) -> Path:
    """A ``.dist-info`` in ``folder`` whose ``agent_engine`` entry point is ``PLUGIN`` (for another process)."""
    info = folder / "agent_engine_inspect_kit-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: agent-engine-inspect-kit\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[agent_engine]\ninspect_kit = _inspect_kit:PLUGIN\n")
    return folder


WORKFLOW = """\
version: "1.0"
nodes:
  - {id: begin, role: start, handler: "nodes:begin"}
  - {id: ask, role: linear, kind: agent, agent_id: bot, tools: [shout], context: seen}
  - {id: split, role: split, handler: "nodes:split", context: seen}
  - {id: each, role: linear, handler: "nodes:each"}
  - {id: gather, role: merge, handler: "nodes:gather"}
  - {id: done, role: exit}
edges:
  - {from: begin, to: ask}
  - {from: ask, to: split}
  - {from: split, to: each}
  - {from: each, to: gather}
  - {from: gather, to: done}
"""

NODES = """\
def begin(payload, ctx):
    return {"topic": payload["topic"], "words": payload["words"]}


def split(payload, ctx):
    words = next(e["payload"]["words"] for e in ctx.context if "begin" in e["tags"])
    return {"subtask_inputs": [{"word": w, "answer": payload["answer"]} for w in words]}


def each(payload, ctx):
    if payload["word"] == "boom":
        raise ValueError("cannot take boom")
    return {"word": payload["word"], "length": len(payload["word"])}


def gather(payload, ctx):
    return {"lengths": [item["output"]["length"] for item in payload["merge_inputs"] if item["status"] == "success"]}
"""


def project_files(runs: Mapping[str, Any]) -> dict[str, Any]:
    """The project's files: begin -> ask (agent calling ``shout``, context ``seen``) -> split -> each -> gather."""
    return {
        "workflow.yaml": WORKFLOW,
        "nodes.py": NODES,
        "agents.yaml": {"agents": [{"id": "bot", "llm": "toolbot/m-1", "prompt": "Shout the topic."}]},
        "tools.yaml": {"tools": [{"id": "shout", "type": "kit.shout"}]},
        "memory.yaml": {"context_profiles": [{"id": "seen", "sources": [{"store": "task"}]}], "runs": dict(runs)},
    }
