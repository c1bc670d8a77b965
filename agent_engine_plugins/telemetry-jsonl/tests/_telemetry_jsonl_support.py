"""Workflows and helpers shared by the trace_file tests (module name unique across the repository).

The sink is found through the installed ``telemetry-jsonl`` entry point, as an operator's engine finds it;
``telemetry_jsonl_discovery`` makes sure the caller's plugin switches cannot hide it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from agent_engine_core import NodeFailure
from agent_engine_core.testing import EventRecorder

TRACES = "traces"


def _node(node_id: str, role: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "role": role, **fields}


def _edges(*pairs: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"from": p[0], "to": p[1], **({"label": p[2]} if len(p) > 2 else {})} for p in pairs]


BRANCH_MERGE: dict[str, Any] = {
    "workflow": {
        "version": "1.0",
        "nodes": [
            _node("s", "start"),
            _node("fan", "branch"),
            _node("a", "linear", handler="double"),
            _node("b", "linear", kind="agent", agent_id="clerk"),
            _node("join", "merge"),
            _node("e", "exit"),
        ],
        "edges": _edges(("s", "fan"), ("fan", "a"), ("fan", "b"), ("a", "join"), ("b", "join"), ("join", "e")),
    },
    "agents": {"agents": [{"id": "clerk", "llm": "scripted/clerk",
                           "config": {"responses": {"b": {"items": ["été", 1.5, None]}}}}]},
}
"""A branch whose clones (one handler, one agent) merge again: clones, agent calls and merge events."""

def split_manifests(**extra: Any) -> dict[str, Any]:
    """start -> split -> work -> merge -> exit; the input ``{"count": n, "pad": k}`` makes n subtasks."""
    workflow = {
        "version": "1.0",
        "nodes": [_node("s", "start"), _node("sp", "split", handler="explode"), _node("work", "linear", handler="pad"),
                  _node("join", "merge"), _node("e", "exit")],
        "edges": _edges(("s", "sp"), ("sp", "work"), ("work", "join"), ("join", "e")),
    }
    return {"workflow": workflow, **extra}


TWO_FAN_OUTS: dict[str, Any] = {
    "workflow": {
        "version": "1.0",
        "nodes": [
            _node("s", "start"),
            _node("fan", "branch"),
            _node("x", "linear", handler="double"),
            _node("y", "linear"),
            _node("join", "merge"),
            _node("sp", "split", handler="per_input"),
            _node("work", "linear", handler="pad"),
            _node("gather", "merge"),
            _node("e", "exit"),
        ],
        "edges": _edges(("s", "fan"), ("fan", "x"), ("fan", "y"), ("x", "join"), ("y", "join"), ("join", "sp"),
                        ("sp", "work"), ("work", "gather"), ("gather", "e")),
    },
}
"""Two successive fan-outs of the root: children are ordered by the stage that created them, then index."""

DECIDE_AND_FAIL: dict[str, Any] = {
    "workflow": {
        "version": "1.0",
        "nodes": [
            _node("s", "start"),
            _node("route", "decision", handler="route"),
            _node("shaky", "linear", handler="boom", continue_on_failure=True),
            _node("calm", "linear"),
            _node("done", "exit"),
            _node("quiet", "exit"),
        ],
        "edges": _edges(("s", "route"), ("route", "shaky", "shaky"), ("route", "calm", "calm"),
                        ("shaky", "done"), ("calm", "quiet")),
    },
}
"""A decision, then a failing stage that continues: a ``partial`` task with a structured error."""


def _boom(payload: Any, ctx: Any) -> Any:
    raise NodeFailure("shaky ground", data={"payload": payload})


HANDLERS: dict[str, Any] = {
    "double": lambda payload, ctx: {"items": payload["items"] * 2},
    "explode": lambda payload, ctx: [{"n": n, "pad": payload.get("pad", 0)} for n in range(payload["count"])],
    "per_input": lambda payload, ctx: [{"n": n, "pad": n} for n, _ in enumerate(payload["merge_inputs"])],
    "pad": lambda payload, ctx: {"n": payload["n"], "text": "x" * payload["pad"]},
    "route": lambda payload, ctx: payload["go"],
    "boom": _boom,
}


def with_sink(manifests: Mapping[str, Any], config: Mapping[str, Any] | None = None, *,
              dispatch: str = "inline") -> dict[str, Any]:
    """``manifests`` plus a plugins.yaml switching ``trace_file`` on with ``config``."""
    config = {"path": TRACES} if config is None else config
    entry = {"id": "trace_file", "config": dict(config), "dispatch": dispatch}
    return {**manifests, "plugins": {"plugins": [entry]}}


def recorded(recorder: EventRecorder, run_id: str | None = None) -> list[dict[str, Any]]:
    """What the sink should have written: every event ``to_dict()``, in delivery order."""
    return [e.to_dict() for e in recorder.events if run_id is None or e.run_id == run_id]


def trace_files(directory: Path) -> list[Path]:
    """Every file under ``directory``, recursively, sorted."""
    return sorted(p for p in directory.rglob("*") if p.is_file())


def assert_per_task_seq(events: list[dict[str, Any]]) -> None:
    """Each task's events carry seq 1, 2, 3... in the order they were written."""
    seen: dict[str, list[int]] = {}
    for event in events:
        seen.setdefault(event["task_id"], []).append(event["seq"])
    for task, seqs in seen.items():
        assert seqs == list(range(1, len(seqs) + 1)), f"task {task}: seq {seqs}"


@pytest.fixture
def telemetry_jsonl_discovery(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Entry-point discovery on, whatever the environment says (the sink comes from the installed package)."""
    monkeypatch.delenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("AGENT_ENGINE_LOAD_PLUGINS", raising=False)
    yield
