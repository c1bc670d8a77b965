"""The pytest plugin third parties test with: its fixtures work as documented in docs/PLUGINS.md."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import types

import pytest

from agent_engine_core import hookimpl
from agent_engine_core.testing import CANARY_ENV, assert_same_trace, assert_trace_nodes

WORKFLOW = {
    "version": "1.0",
    "nodes": [{"id": "s", "role": "start"}, {"id": "work", "role": "linear", "handler": "inc"},
              {"id": "e", "role": "exit"}],
    "edges": [{"from": "s", "to": "work"}, {"from": "work", "to": "e"}],
}
HANDLERS = {"inc": lambda payload, ctx: payload + 1}


def test_fake_entry_points_are_discovered_with_their_distribution(make_engine, fake_entry_points):
    seen = []
    module = types.ModuleType("acme_plugin")

    @hookimpl
    def on_task_finished(event):
        seen.append(event.status)

    module.on_task_finished = on_task_finished
    fake_entry_points(("acme", module, "agent-engine-acme"))
    result = make_engine({"workflow": WORKFLOW}, handlers=HANDLERS).run(1)
    assert result.output == 2
    assert seen == ["success"]
    assert result.metadata["plugins"]["agent-engine-acme"] == "0.0.0"


def test_fake_entry_points_accept_plain_objects_and_report_broken_ones(make_engine, fake_entry_points):
    class Watcher:
        count = 0

        @hookimpl
        def on_node_finished(self, event):
            Watcher.count += 1

    fake_entry_points(("watcher", Watcher()), ("ghost", "no_such_module_anywhere"))
    engine = make_engine({"workflow": WORKFLOW}, handlers=HANDLERS)
    engine.run(1)
    assert Watcher.count == 3
    assert [f.name for f in engine.plugins.failed] == ["ghost"]
    assert engine.plugins.failed[0].distribution == "fake-ghost"


def test_event_recorder_and_trace_helpers(make_engine, event_recorder):
    engine = make_engine({"workflow": WORKFLOW}, handlers=HANDLERS, plugins=[event_recorder])
    first = engine.run(1, run_id="same")
    assert [e.type for e in event_recorder.for_task("same")] == [
        "task_started", "node_started", "node_finished", "node_started", "node_finished",
        "node_started", "node_finished", "task_finished",
    ]
    second = engine.run(1, run_id="same")
    assert_same_trace(first, second)
    assert_trace_nodes(first, "same", ["s", "work", "e"])
    with pytest.raises(AssertionError, match="visited"):
        assert_trace_nodes(first, "same", ["s", "e"])
    with pytest.raises(AssertionError, match="differ"):
        assert_same_trace(first, engine.run(2, run_id="same"))


def test_engine_from_dir(engine_from_dir, tmp_path):
    (tmp_path / "workflow.yaml").write_text(
        "version: '1.0'\nnodes:\n  - {id: s, role: start}\n  - {id: e, role: exit}\nedges:\n  - {from: s, to: e}\n")
    assert engine_from_dir(tmp_path).run({"a": 1}).output == {"a": 1}


def test_fake_entry_points_accept_distribution_style_names(fake_entry_points, make_engine):
    from agent_engine_core import hookimpl

    class Sink:
        @hookimpl
        def register_telemetry_sinks(self, register):
            register("dashed_sink", lambda config, project_dir: self)

    fake_entry_points(("memory-postgres.extra", Sink(), "agent-engine-extra"))
    engine = make_engine({"workflow": {"version": "1.0", "nodes": [{"id": "s", "role": "start"},
                                                                  {"id": "x", "role": "exit"}],
                                       "edges": [{"from": "s", "to": "x"}]}})
    assert "dashed_sink" in engine.components.of("telemetry_sink")


def test_the_helpers_import_without_pytest():
    """``agent_engine_core.testing`` is for any test runner: importing it imports neither pytest nor Hypothesis."""
    probe = ("import sys, agent_engine_core.testing\n"
             "print(sorted(m for m in ('pytest', '_pytest', 'hypothesis') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


def test_the_pytest11_entry_point_is_the_fixtures_module():
    (point,) = [p for p in importlib.metadata.entry_points(group="pytest11") if p.name == "agent_engine"]
    assert point.value == "agent_engine_core.testing.plugin"
    fixtures = {"make_engine", "engine_from_dir", "event_recorder", "fake_entry_points", "secret_ledger", "locked_dir"}
    assert set(point.load().__all__) == fixtures


SESSION_STATE = """
import json, logging, os, pathlib, structlog

def state():
    return {
        "configure": structlog.configure.__qualname__,
        "processors": [getattr(p, "__qualname__", type(p).__name__) for p in structlog.get_config()["processors"]],
        "root_level": logging.getLogger().level,
        "ledger_handlers": [type(h).__name__ for h in logging.getLogger().handlers if "Ledger" in type(h).__name__],
        "canary_set": "AGENT_ENGINE_TEST_API_KEY" in os.environ,
    }

def pytest_sessionfinish(session):
    pathlib.Path("after.json").write_text(json.dumps(state()))
"""


def _inner_session(tmp_path, test_source: str) -> dict:
    """Run pytest on one test file in a fresh interpreter (the plugin loads by its entry point); its end state."""
    (tmp_path / "conftest.py").write_text(SESSION_STATE)
    (tmp_path / "test_inner.py").write_text(test_source)
    env = {k: v for k, v in os.environ.items() if k != CANARY_ENV}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((tmp_path / "after.json").read_text())


UNTOUCHED = {"configure": "configure", "root_level": logging.WARNING, "ledger_handlers": [], "canary_set": False}


def test_a_session_that_asks_for_no_fixture_keeps_its_logging_and_environment(tmp_path):
    after = _inner_session(tmp_path, """
from conftest import state

def test_untouched(make_engine):  # the plugin is loaded: its fixtures resolve
    now = state()
    assert now["configure"] == "configure", now
    assert not any("ledger" in name for name in now["processors"]), now
    assert now["ledger_handlers"] == [] and not now["canary_set"], now
""")
    assert {key: after[key] for key in UNTOUCHED} == UNTOUCHED
    assert not any("ledger" in name for name in after["processors"])


def test_the_secret_ledger_patches_logging_only_while_the_session_holds_it(tmp_path):
    after = _inner_session(tmp_path, """
import logging, structlog
from conftest import state

def test_held(secret_ledger):
    now = state()
    assert now["configure"].endswith("configure_with_ledger") and now["canary_set"], now
    assert now["ledger_handlers"] == ["_LogLedger"] and now["root_level"] == logging.DEBUG, now
    structlog.configure(processors=[structlog.processors.KeyValueRenderer()])  # as the CLI does
    structlog.get_logger().info("seen by the ledger")
    assert any("seen by the ledger" in text for text in secret_ledger.texts)
""")
    assert {key: after[key] for key in UNTOUCHED} == UNTOUCHED
    assert not any("ledger" in name for name in after["processors"])
