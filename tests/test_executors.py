"""scheduler.yaml's executor: the built-in ``local`` one comes through register_executors like any other."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from _workflows import engine, node, workflow

from agent_engine_core import Engine, ManifestError, hookimpl

THREADS: list[str] = []


def where(payload, ctx):
    THREADS.append(threading.current_thread().name)
    return payload


def fan_out(executor, plugins=()):
    return engine([node("s", "start"), node("b", "branch"), node("l", "linear", handler=where),
                   node("r", "linear", handler=where), node("m", "merge"), node("x", "exit")],
                  [("s", "b"), ("b", "l"), ("b", "r"), ("l", "m"), ("r", "m"), ("m", "x")],
                  scheduler={"scheduler": {"executor": executor}}, **({"plugins": plugins} if plugins else {}))


def test_an_unregistered_executor_lists_the_installed_ones_and_names_no_distribution_that_does_not_exist(monkeypatch):
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")
    with pytest.raises(ManifestError) as caught:
        fan_out("dask")
    (issue,) = caught.value.issues
    assert issue.code == "manifest.unknown_component"
    assert issue.hint == ("installed executors: local; no distribution of this repository provides the executor "
                          "'dask'; install the one that does")


def test_a_registered_queue_executor_is_refused_until_the_task_queue_exists():
    class Queue:
        @hookimpl
        def register_executors(self, register):
            register("remote", ThreadPoolExecutor)

    wf, _ = workflow([node("s", "start"), node("x", "exit")], [("s", "x")])
    with pytest.raises(ManifestError) as caught:
        Engine.from_dict({"workflow": wf, "scheduler": {"scheduler": {"executor": "remote"}}}, plugins=[Queue()])
    (issue,) = caught.value.issues
    assert (issue.code, issue.hint) == ("feature.unsupported", "use executor: local")


def test_the_local_executor_runs_sync_handlers_of_concurrent_children():
    THREADS.clear()
    result = fan_out("local").run(1)
    assert [i["output"] for i in result.output["merge_inputs"]] == [1, 1]
    assert len(THREADS) == 2 and all(name.startswith("agent-engine") for name in THREADS)  # the local pool's
