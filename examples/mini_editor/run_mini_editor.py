"""Start the mini editor: the REPL on this example's config dir with the ``mini_editor`` profile.

The same as ``agent-engine repl examples/mini_editor/config --profile mini_editor``; any other option is passed
on (``--session NAME``, ``--debug``). From a pipe it reads one instruction or command per line.
"""

from __future__ import annotations

import sys
from pathlib import Path

from agent_engine_core.cli import main

CONFIG = Path(__file__).resolve().parent / "config"

if __name__ == "__main__":
    main(["repl", str(CONFIG), "--profile", "mini_editor", *sys.argv[1:]])
