"""A writer server for the crash test: it imports once, then forks writer processes on demand.

Starting a fresh interpreter costs about half a second (agent_engine_core imports the engine), so 50 kills would
take most of a minute. This server pays that cost once. For each command line ``FOLDER RUN MAX_ITEMS`` on
stdin (``MAX_ITEMS`` is ``-`` for no bound), it forks a writer and prints ``child PID``. The writer opens the
project store in FOLDER and appends items ``RUN-0``, ``RUN-1``... as fast as it can. After each ``append``
returns, it prints the item's id. When the writer dies, the server prints ``exit STATUS``. The writers are real
processes, and the test kills them with SIGKILL. A writer that fails prints ``error ...`` and exits with 1.

    python _memory_jsonl_writers.py MODULE:FACTORY
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

import structlog
from agent_engine_core._json import dumps
from agent_engine_core.memory import MemoryItem, MemorySetup


def write_forever(factory, folder: Path, run: int, max_items: int | None) -> None:
    backend = factory(MemorySetup("project", "p1", folder, max_items=max_items))
    n = 0
    while True:
        text = "x" * (37 * n % 3000)  # lines of varied length, up to a few KiB
        item = MemoryItem(f"{run}-{n}", "project", "p1", dumps({"run": run, "n": n, "text": text}),
                          run * 1_000_000 + n, f"t{run}", ("crash",), dumps({}))
        backend.append(item)
        os.write(1, f"{item.id}\n".encode())
        n += 1


def main() -> None:
    module, _, name = sys.argv[1].partition(":")
    factory = getattr(importlib.import_module(module), name)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout carries the protocol
    os.write(1, b"ready\n")
    for command in sys.stdin:
        folder, run, bound = command.split()
        pid = os.fork()
        if pid == 0:
            try:
                write_forever(factory, Path(folder), int(run), None if bound == "-" else int(bound))
            except BaseException:
                os.write(1, ("error " + traceback.format_exc().replace("\n", " | ") + "\n").encode())
            os._exit(1)
        os.write(1, f"child {pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        os.write(1, f"exit {status}\n".encode())


if __name__ == "__main__":
    main()
