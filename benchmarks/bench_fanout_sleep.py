"""Workload 3: a 32-way fan-out whose children each block for 100 ms in a plain sync handler.

What it measures: whether the children of one branch really run concurrently. Each child is an ordinary
synchronous function calling ``time.sleep(0.1)`` (a stand-in for a blocking SDK call to an LLM or a tool), so
a run takes ~100 ms if all 32 run at once and ~3.2 s if they run one after another; anything in between shows
the size of the worker pool. Graph: start -> branch -> 32 sleeping linear -> merge -> exit.

Two rows: each framework at its *default* settings (the issue's target, ≤ 105 ms, is for Agent Engine at its
defaults), and both explicitly allowed 32 children in flight (Agent Engine ``scheduler.fanout_concurrency: 32``,
LangGraph ``config["max_concurrency"] = 32``; LangGraph's default pool is ``ThreadPoolExecutor``'s default,
``min(32, cores + 4)`` threads).
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _graphs import State, agent_engine, default_lg_fn, fan_out, langgraph, noop
from _harness import Row, Settings, Side, scaled, time_pair

WIDTH = 32
SLEEP_S = 0.1


def sleepy(payload: Any, ctx: Any) -> Any:
    """Agent Engine child: blocks like a synchronous network call, then passes its input on."""
    time.sleep(SLEEP_S)
    return payload


def lg_sleepy(state: State) -> dict[str, Any]:
    """LangGraph child: the same blocking call, then feeds the merge."""
    time.sleep(SLEEP_S)
    return {"results": [state["x"]]}


def _agent_engine(manifests: dict[str, Any]):
    engine = agent_engine(fan_out(WIDTH, child_handler="sleepy"), {"noop": noop, "sleepy": sleepy}, **manifests)
    result = engine.run({"x": 1})
    if result.status != "success" or len(result.output["merge_inputs"]) != WIDTH:
        raise RuntimeError(f"unexpected result: status={result.status!r} output={result.output!r:.200}")
    return lambda: engine.run({"x": 1})


def _langgraph(config: dict[str, Any]):
    shape = fan_out(WIDTH)
    pick = default_lg_fn(shape)
    app = langgraph(shape, lambda n: lg_sleepy if n["id"].startswith("child") else pick(n)).compile()
    if len(app.invoke({"x": {"x": 1}, "results": []}, config)["x"]["merge_inputs"]) != WIDTH:
        raise RuntimeError("unexpected LangGraph output")
    return lambda: app.invoke({"x": {"x": 1}, "results": []}, config)


def floor_ms(settings: Settings) -> float:
    """The same 32 sleeps on a bare ``ThreadPoolExecutor(32)``: the best any framework can do here."""
    with ThreadPoolExecutor(WIDTH) as pool:
        samples = []
        for _ in range(settings.warmup + settings.repeats):
            start = time.perf_counter_ns()
            list(pool.map(time.sleep, [SLEEP_S] * WIDTH))
            samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples[settings.warmup :]) / 1e6


def run(settings: Settings) -> list[Row]:
    floor = floor_ms(settings)
    note = f"floor on this machine (bare ThreadPoolExecutor(32), no framework): {floor:.1f} ms"
    rows = []
    variants = (
        ("defaults", {}, {}, "≤ 105 ms"),
        (
            "32 in flight",
            {"scheduler": {"scheduler": {"fanout_concurrency": WIDTH}}},
            {"max_concurrency": WIDTH},
            "≤ 105 ms",
        ),
    )
    for label, ae_manifests, lg_config, target in variants:
        ae = Side.build("Agent Engine", lambda m=ae_manifests: _agent_engine(m))
        lg = Side.build("LangGraph", lambda c=lg_config: _langgraph(c))
        ae_s, lg_s = time_pair(f"fan-out sleep ({label})", ae, lg, settings)
        rows.append(
            Row(
                f"3. {WIDTH}x sleep(0.1) fan-out, {label}",
                "ms per run",
                scaled(ae_s, 1e3),
                scaled(lg_s, 1e3),
                target,
                note,
            )
        )
    return rows
