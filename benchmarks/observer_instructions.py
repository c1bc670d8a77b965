"""Observer overhead in CPU instructions (valgrind's callgrind), a figure that machine noise cannot move.

Wall-clock figures on a shared 2-core machine swing by 2x from one run to the next; callgrind counts the
instructions executed, which repeat exactly for the same program and input. The per-run cost is taken as the
difference between a process doing 25 runs and one doing 5 (so engine construction and interpreter start-up
cancel out), with no observer and with three observers that receive every event.

    python benchmarks/observer_instructions.py        # needs valgrind (Debian package: valgrind)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

LENGTH = 200
RUNS = (5, 25)

INNER = """
import sys
from agent_engine_core import Engine, hookimpl

class Observer:
    def __init__(self, name):
        self.name = name
        self.events = 0

    @hookimpl
    def on_event(self, event):
        self.events += 1

n = {length}
nodes = [{{"id": "n0", "role": "start"}}]
nodes += [{{"id": f"n{{i}}", "role": "linear", "handler": "noop"}} for i in range(1, n - 1)]
nodes += [{{"id": f"n{{n - 1}}", "role": "exit"}}]
edges = [{{"from": f"n{{i}}", "to": f"n{{i + 1}}"}} for i in range(n - 1)]
plugins = [Observer(f"observer{{i}}") for i in range(int(sys.argv[1]))]
engine = Engine.from_dict({{"workflow": {{"version": "1.0", "nodes": nodes, "edges": edges}}}},
                          handlers={{"noop": lambda payload, ctx: payload}}, plugins=plugins)
for _ in range(int(sys.argv[2])):
    engine.run({{"x": 1}})
"""


def instructions(script: str, observers: int, runs: int) -> int:
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg", sys.executable, script,
             str(observers), str(runs)],
            capture_output=True, text=True, check=True,
            env={**os.environ, "AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD": "1"},
        )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as inner:
        inner.write(INNER.format(length=LENGTH))
    try:
        per_node = {}
        for observers in (0, 3):
            few, many = (instructions(inner.name, observers, runs) for runs in RUNS)
            per_node[observers] = (many - few) / (RUNS[1] - RUNS[0]) / LENGTH
            print(f"{observers} observers: {per_node[observers]:,.0f} instructions per node")
    finally:
        os.unlink(inner.name)
    print(f"ratio with 3 observers / none: {per_node[3] / per_node[0]:.3f} (target <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
