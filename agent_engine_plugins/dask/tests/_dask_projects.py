"""Projects on disk for the dask tests: the workers build their engines from the config dir, as in production."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_engine_core import Engine

NODES = '''\
import os
import time
from pathlib import Path


def step(payload, ctx):
    """Every node adds itself to the path; odd numbers take one branch, even the other."""
    return {**payload, "path": [*payload.get("path", []), ctx.node_id]}


def pick(payload, ctx):
    return "odd" if payload["n"] % 2 else "even"


def hold(payload, ctx):
    """With hold: the first attempt writes its worker's pid to the marker and waits to be killed (60 s at most)."""
    marker = Path(payload.get("marker", ""))
    if payload.get("hold") and not marker.exists():
        partial = marker.with_suffix(".partial")
        partial.write_text(str(os.getpid()))
        partial.rename(marker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
    time.sleep(payload.get("sleep", 0))
    return {**payload, "path": [*payload.get("path", []), ctx.node_id]}


def where(payload, ctx):
    """The process that ran the task."""
    return {"pid": os.getpid()}


def remember(payload, ctx):
    """write: append to project memory; count: how many items project memory holds."""
    time.sleep(payload.get("sleep", 0))
    if payload["op"] == "write":
        ctx.memory.project.append({"n": payload["n"], "pid": os.getpid()}, tags=["seen"])
        return {"wrote": payload["n"]}
    return {"count": len(ctx.memory.project.query(tags=["seen"]))}
'''

BRANCHING = '''\
version: "1.0"
nodes:
  - {id: s, role: start, handler: "nodes:hold"}
  - {id: d, role: decision, handler: "nodes:pick"}
  - {id: odd, role: linear, handler: "nodes:step"}
  - {id: even, role: linear, handler: "nodes:step"}
  - {id: x, role: exit, handler: "nodes:step"}
edges:
  - {from: s, to: d}
  - {from: d, to: odd, label: odd}
  - {from: d, to: even, label: even}
  - {from: odd, to: x}
  - {from: even, to: x}
'''

MEMORY = '''\
version: "1.0"
nodes:
  - {id: s, role: start, handler: "nodes:remember"}
  - {id: x, role: exit}
edges:
  - {from: s, to: x}
'''

WHERE = '''\
version: "1.0"
nodes:
  - {id: s, role: start, handler: "nodes:where"}
  - {id: x, role: exit}
edges:
  - {from: s, to: x}
'''


def write_project(folder: Path, *, executor: dict[str, Any] | None, workflow: str = BRANCHING,
                  concurrency: int = 4, memory: dict[str, Any] | None = None) -> Path:
    """A config dir; ``executor``: scheduler.yaml's dask ``config`` (``None``: the local executor)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nodes.py").write_text(NODES)
    (folder / "workflow.yaml").write_text(workflow)
    scheduler: dict[str, Any] = {"max_concurrency": concurrency, "max_queue_size": None}
    if executor is not None:
        scheduler.update(executor="dask", config=executor)
    (folder / "scheduler.yaml").write_text(json.dumps({"scheduler": scheduler}, indent=2) + "\n")
    if memory is not None:
        (folder / "memory.yaml").write_text(json.dumps(memory, indent=2) + "\n")
    return folder


def run_all(engine: Engine, inputs: list[Any], prefix: str = "r") -> list[Any]:
    """Queue ``inputs`` with run ids ``prefix0``, ``prefix1``... and run them."""
    for i, value in enumerate(inputs):
        engine.enqueue(value, run_id=f"{prefix}{i}")
    return engine.run_queued()
