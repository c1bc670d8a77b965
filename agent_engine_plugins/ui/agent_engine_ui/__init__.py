"""agent-engine-ui: ``agent-engine ui DIR``, a local, offline web inspector over a project's run store.

The runs, each run's graph coloured by what happened at every node, each stage's values and calls, diffs of two
runs, pending approvals and replay from a node, served from 127.0.0.1 with every asset inside the package.
``agent-engine ui DIR --export RUN_ID FILE.html`` writes one run as a self-contained page. See README.md.
"""

from __future__ import annotations

from agent_engine_ui._version import __version__

__all__ = ["__version__"]
