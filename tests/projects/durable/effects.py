"""The side-effect log: one line per handler call or tool call, and the pause a test kills the run at.

``EFFECTS_LOG`` names the log. When the log's line count reaches ``DURABLE_PAUSE_AT``, the caller stops and
waits to be killed, either before writing its line or (``DURABLE_PAUSE_AFTER=1``) after it, having first
written ``DURABLE_PAUSED`` (its pid) so that the test knows the moment has come. Only one process takes a
moment: an agent's tool program runs in its own session and may outlive the killed engine.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any


def leave(node: str, payload: Any) -> None:
    """Append ``node<TAB>payload`` to the log, pausing there for the test's SIGKILL if this is the moment."""
    log = os.environ.get("EFFECTS_LOG")
    if not log:
        return
    after = os.environ.get("DURABLE_PAUSE_AFTER") == "1"
    with open(log, "a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        count = sum(1 for _ in handle)
        moment = os.environ.get("DURABLE_PAUSE_AT") == str(count + (1 if after else 0))
        if moment and not after:
            _pause()
        handle.write(f"{node}\t{json.dumps(payload, sort_keys=True)}\n")
        handle.flush()
        os.fsync(handle.fileno())
        if moment:
            _pause()


def _pause() -> None:
    """Wait for the kill, unless another process took this moment (a tool's program outlives its engine)."""
    paused = Path(os.environ["DURABLE_PAUSED"])
    try:
        Path(f"{paused}.taken").touch(exist_ok=False)
    except FileExistsError:
        return
    # written whole, then renamed: the test must never read the pid half-written (an empty pid kills nothing)
    staged = paused.with_name(f"{paused.name}.staged")
    staged.write_text(f"{os.getpid()}\n", encoding="utf-8")
    os.replace(staged, paused)
    while True:
        time.sleep(1)
