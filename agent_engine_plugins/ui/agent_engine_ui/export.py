"""``agent-engine ui --export RUN_ID FILE.html``: one run as a single self-contained HTML file, for CI artifacts.

The file holds the page, its stylesheet and its script inline, and every stage panel of the run (values in full,
collapsed when long): it opens from disk, offline, in any browser, and refers to nothing outside itself.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from agent_engine_core.inspector import open_inspector
from agent_engine_core.manifests.loader import load_config_dir

from agent_engine_ui import views
from agent_engine_ui.app import STATIC, project_name, templates

__all__ = ["export_run", "render_run"]


def render_run(config_dir: Path, run_id: str) -> str:
    """The self-contained HTML of stored run ``run_id`` of the project in ``config_dir``."""
    inspector, close = open_inspector(config_dir, runs="local")
    try:
        view = inspector.run(run_id)
    finally:
        close()
    context = views.run_page(view, load_config_dir(config_dir).workflow)
    visited = dict.fromkeys(record.node_id for record in view.trace.records)
    panels = {node_id: views.stage_panels(view, node_id) for node_id in visited}
    return templates().get_template("run.html").render(
        export=True, project=project_name(config_dir), token="", node=None, panels=[], all_panels=panels,
        value_url=None,
        inline_css=(STATIC / "ui.css").read_text(encoding="utf-8"),
        inline_js=(STATIC / "ui.js").read_text(encoding="utf-8"),
        exported_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), **context)


def export_run(config_dir: Path, run_id: str, target: Path) -> int:
    """Write the run's page to ``target`` whole or not at all (a temporary file renamed); its size in bytes."""
    text = render_run(config_dir, run_id).encode("utf-8")
    staged = target.with_name(f".{target.name}.partial")
    staged.write_bytes(text)
    os.replace(staged, target)
    return len(text)
