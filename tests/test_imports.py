"""What ``import agent_engine_core`` loads: the heavy modules wait for the first project or the first run."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading

import pytest
from _workflows import engine, node

DEFERRED = ("asyncio", "pydantic", "yaml", "importlib.metadata", "agent_engine_core._run.router")


def _loaded_after(code: str) -> set[str]:
    """Which of ``DEFERRED`` a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {DEFERRED!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_import_loads_none_of_the_deferred_modules() -> None:
    assert _loaded_after("import agent_engine_core") == set()


def test_a_project_loads_pydantic_and_yaml_and_a_first_run_the_router() -> None:
    build = (
        "from agent_engine_core import Engine\n"
        "engine = Engine.from_dict({'workflow': {'version': '1.0', 'nodes': [\n"
        "    {'id': 'a', 'role': 'start'}, {'id': 'b', 'role': 'exit'}], 'edges': [{'from': 'a', 'to': 'b'}]}})\n"
    )
    assert {"pydantic", "yaml"} <= _loaded_after(build)
    assert "agent_engine_core._run.router" not in _loaded_after(build)
    assert _loaded_after(build + "assert engine.run({'n': 1}).output == {'n': 1}\n") >= {
        "asyncio", "agent_engine_core._run.router"
    }


def test_run_inside_a_running_event_loop_is_refused() -> None:
    chain = engine([node("a", "start"), node("b", "exit")], [("a", "b")])

    async def inside() -> None:
        chain.run({"n": 1})

    with pytest.raises(RuntimeError, match=r"use 'await engine.arun\(\)'"):
        asyncio.run(inside())
    assert chain.run({"n": 1}).output == {"n": 1}  # outside a loop the same engine runs


FAN_OUT = (  # a branch makes the run suspend, so it needs the thread's event loop
    "from agent_engine_core import Engine\n"
    "ids = [('s', 'start'), ('b', 'branch'), ('l', 'linear'), ('r', 'linear'), ('m', 'merge'), ('x', 'exit')]\n"
    "pairs = [('s', 'b'), ('b', 'l'), ('b', 'r'), ('l', 'm'), ('r', 'm'), ('m', 'x')]\n"
    "engine = Engine.from_dict({'workflow': {'version': '1.0', 'nodes': [{'id': i, 'role': r} for i, r in ids],\n"
    "                                        'edges': [{'from': a, 'to': b} for a, b in pairs]}})\n"
)


def test_the_event_loop_is_closed_at_exit_before_modules_are_torn_down() -> None:
    """asyncio loads after the engine module, so it is torn down first: the loop must not wait for that."""
    code = (
        "import atexit\n"
        "report = []\n"
        "atexit.register(lambda: print('closed' if report[0].is_closed() else 'open'))  # runs after later hooks\n"
        f"{FAN_OUT}"
        "assert [c['output'] for c in engine.run(1).output['merge_inputs']] == [1, 1]\n"
        "from agent_engine_core.engine import _loops\n"
        "report.append(_loops.get())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert (done.stdout, done.stderr) == ("closed\n", "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts file descriptors through /proc")
def test_the_event_loop_of_a_finished_thread_is_closed() -> None:
    roles = {"s": "start", "b": "branch", "l": "linear", "r": "linear", "m": "merge", "x": "exit"}
    pairs = [("s", "b"), ("b", "l"), ("b", "r"), ("l", "m"), ("r", "m"), ("m", "x")]
    fan_out = engine([node(i, role) for i, role in roles.items()], pairs)

    def open_fds() -> int:
        return len(os.listdir(f"/proc/{os.getpid()}/fd"))

    fan_out.run(0)
    gc.collect()
    before = open_fds()
    for _ in range(20):  # each thread's loop holds a selector and a self-pipe: 3 descriptors
        worker = threading.Thread(target=fan_out.run, args=(1,))
        worker.start()
        worker.join()
    gc.collect()
    assert open_fds() - before < 10
