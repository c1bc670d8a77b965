"""Workload 5: loading and validating a 2000-node / 3653-edge workflow from disk.

What it measures: start-up cost for a large declared workflow. Agent Engine: ``Engine.from_config_dir`` on a
temporary config dir holding only a generated ``workflow.yaml`` — read, parse, validate against the manifest
models, check every structural rule (SPEC 3.1), analyse fan-out groups, build the immutable DAG. LangGraph:
building the same topology with ``StateGraph.add_node``/``add_edge`` and ``compile()`` (its own validation).

The graph (see ``_graphs.diamonds``): start -> 2 linear -> 114 diamonds (branch -> 15 or 16 linear -> merge)
in a row -> exit: 2000 nodes and exactly 3653 edges, every node valid for its role, no handlers (the
defaults pass data through), so no handler import is timed. Agent Engine also parses YAML, which LangGraph
does not need; the second row adds parsing the same file (PyYAML's safe loader, its C version when available)
to the LangGraph side to show how much of the difference that is. The third row loads the same workflow
written as people write it by hand (``_graphs.block_yaml``: indented block lists, one key per line, blank
lines and comments) instead of ``yaml.safe_dump``'s output; it holds the same data, checked before timing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from _graphs import block_yaml, default_lg_fn, diamonds, langgraph, workflow
from _harness import Row, Settings, Side, scaled, time_pair

NODES, EDGES = 2000, 3653
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the pure-Python one is ~8x slower


def _agent_engine(config_dir: Path):
    from agent_engine_core import Engine  # noqa: PLC0415 - the LangGraph side must run without it

    Engine.from_config_dir(config_dir)  # a load that raises ManifestError fails the side
    return lambda: Engine.from_config_dir(config_dir)


def _langgraph(config_dir: Path, *, parse: bool):
    generated = diamonds(NODES, EDGES)

    def build() -> object:
        shape = generated
        if parse:
            text = (config_dir / "workflow.yaml").read_text(encoding="utf-8")
            manifest = yaml.load(text, Loader=SAFE_LOADER)
            shape = (manifest["nodes"], manifest["edges"])
        return langgraph(shape, default_lg_fn(shape)).compile()

    build()
    return build


def run(settings: Settings) -> list[Row]:
    shape = diamonds(NODES, EDGES)
    dumped = yaml.safe_dump(workflow(shape), sort_keys=False)
    by_hand = block_yaml(shape)
    if yaml.load(by_hand, Loader=SAFE_LOADER) != workflow(shape):
        raise AssertionError("block_yaml does not hold the workflow it was written from")
    rows = []
    variants = (  # (label, text, LangGraph also parsing)
        ("", dumped, False),
        (", LangGraph also parsing the YAML", dumped, True),
        (", block-style YAML as written by hand", by_hand, False),
    )
    for label, text, parse in variants:
        with tempfile.TemporaryDirectory(prefix="ae-bench-") as tmp:
            config_dir = Path(tmp)
            (config_dir / "workflow.yaml").write_text(text, encoding="utf-8")
            ae = Side.build("Agent Engine", lambda d=config_dir: _agent_engine(d))
            lg = Side.build("LangGraph", lambda d=config_dir, p=parse: _langgraph(d, parse=p))
            ae_s, lg_s = time_pair(f"load {NODES} nodes{label}", ae, lg, settings)
        rows.append(
            Row(f"5. load {NODES} nodes / {EDGES} edges{label}", "ms per load", scaled(ae_s, 1e3), scaled(lg_s, 1e3))
        )
    return rows
