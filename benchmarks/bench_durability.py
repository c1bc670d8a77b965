"""Workload 11: what journaling every stage costs (``runs: {durability: stage}`` on SQLite), beside LangGraph's
SqliteSaver checkpointer on the same chain.

What it measures: µs per node of the W1 chain (start -> linear... -> exit, ``LENGTH`` nodes) whose every node
changes the payload and makes it grow (it appends its id to a list and bumps a counter), four ways:

- Agent Engine, ``durability: off``: runs kept in the SQLite run store once finished (``agent-engine run``'s
  default), by the writer thread;
- Agent Engine, ``durability: stage``: every stage record journaled in SQLite (one transaction per stage,
  WAL, ``synchronous=NORMAL``) before the next stage starts, the journal dropped once the run is written;
- LangGraph without a checkpointer (its default) and with ``SqliteSaver`` (a checkpoint per step, committed),
  its connection set to WAL and ``synchronous=NORMAL`` like Agent Engine's, each run a fresh ``thread_id``.

Both sides write to a file in a temporary folder on the same disk. Usage::

    python benchmarks/bench_durability.py [--quick]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from _graphs import chain, langgraph, workflow
from _harness import ERRORS, Row, Settings, Side, scaled, table, time_pair

LENGTH = 100


def grow(payload: Any, ctx: Any) -> Any:
    """Agent Engine node: the payload changes at every node and grows by one list item."""
    return {"x": payload["x"] + 1, "steps": [*payload["steps"], ctx.node_id]}


def _expected() -> dict[str, Any]:
    shape = chain(LENGTH, handler="grow")
    ids = [node["id"] for node in shape[0]]
    return {"x": len(ids), "steps": ids}


def _agent_engine(folder: Path, durability: str):
    from agent_engine_core import Engine  # noqa: PLC0415 - the other side must run without this import
    from agent_engine_core.manifests.models import RunsSpec  # noqa: PLC0415

    runs = RunsSpec(backend="sqlite", durability=durability,
                    config={"path": str(folder / f"{durability}-runs.db")})  # type: ignore[arg-type]
    engine = Engine.from_dict({"workflow": workflow(chain(LENGTH, handler="grow"))}, handlers={"grow": grow},
                              runs=runs)
    result = engine.run({"x": 0, "steps": []})
    if result.status != "success" or result.output != _expected():
        raise RuntimeError(f"unexpected result: status={result.status!r} output={result.output!r}")
    engine.flush_runs()
    return lambda: engine.run({"x": 0, "steps": []})


def _langgraph(folder: Path, checkpointed: bool):
    shape = chain(LENGTH, handler="grow")

    def pick(node: dict[str, str]) -> Any:
        node_id = node["id"]

        def step(state: dict[str, Any]) -> dict[str, Any]:
            x = state["x"]
            return {"x": {"x": x["x"] + 1, "steps": [*x["steps"], node_id]}}

        return step

    graph = langgraph(shape, pick)
    if checkpointed:
        from langgraph.checkpoint.sqlite import SqliteSaver  # noqa: PLC0415 - langgraph-checkpoint-sqlite

        connection = sqlite3.connect(folder / "langgraph.db", check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        app = graph.compile(checkpointer=SqliteSaver(connection))
    else:
        app = graph.compile()

    def once() -> Any:
        config = {"recursion_limit": LENGTH + 10, "configurable": {"thread_id": uuid.uuid4().hex}}
        return app.invoke({"x": {"x": 0, "steps": []}, "results": []}, config)["x"]

    if once() != _expected():
        raise RuntimeError("unexpected LangGraph output")
    return once


def run(settings: Settings) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-durability-") as name:
        folder = Path(name)
        off = Side.build("Agent Engine off", lambda: _agent_engine(folder, "off"))
        bare = Side.build("LangGraph", lambda: _langgraph(folder, checkpointed=False))
        off_s, bare_s = time_pair(f"chain {LENGTH}, durability off", off, bare, settings)
        stage = Side.build("Agent Engine stage", lambda: _agent_engine(folder, "stage"))
        saver = Side.build("LangGraph SqliteSaver", lambda: _langgraph(folder, checkpointed=True))
        stage_s, saver_s = time_pair(f"chain {LENGTH}, durability stage", stage, saver, settings)
    per_node = 1e6 / LENGTH
    rows = [
        Row(f"11. growing chain of {LENGTH}, no journal / no checkpointer", "µs per node", scaled(off_s, per_node),
            scaled(bare_s, per_node), "baseline"),
        Row(f"11. growing chain of {LENGTH}, stage journal / SqliteSaver", "µs per node", scaled(stage_s, per_node),
            scaled(saver_s, per_node), "measured"),
    ]
    if off_s and stage_s:
        rows.append(Row("11. journal overhead, stage - off", "µs per node", (stage_s - off_s) * per_node,
                        None if not (saver_s and bare_s) else (saver_s - bare_s) * per_node, "measured",
                        note="LangGraph column: SqliteSaver - no checkpointer"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    args = parser.parse_args(argv)
    print(table(run(Settings.make(quick=args.quick))))
    for error in ERRORS:
        print(f"error: {error}", file=sys.stderr)
    return 1 if ERRORS else 0


if __name__ == "__main__":
    sys.exit(main())
