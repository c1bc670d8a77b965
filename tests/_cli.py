"""The ``agent-engine`` command of this environment, for tests that run it as a real process."""

from __future__ import annotations

import sys
from pathlib import Path

_SCRIPT = Path(sys.executable).with_name("agent-engine")
_FALLBACK = [sys.executable, "-c", "from agent_engine_core.cli import main; main()"]
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else _FALLBACK
"""The installed console script, or the same entry point through this interpreter when there is none."""
