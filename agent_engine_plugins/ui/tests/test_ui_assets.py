"""The pages' assets are the package's own: htmx as vendored at its pinned version, nothing from elsewhere."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import agent_engine_ui

PACKAGE = Path(agent_engine_ui.__file__).parent
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
"""htmx.org 2.0.11's ``dist/htmx.min.js``, as tools/vendor_htmx.py prints it."""


def test_htmx_is_the_pinned_release():
    script = (PACKAGE / "static" / "htmx.min.js").read_bytes()
    assert hashlib.sha256(script).hexdigest() == HTMX_SHA256, "run python tools/vendor_htmx.py"
    assert (PACKAGE / "static" / "htmx.VERSION").read_text(encoding="utf-8").startswith("htmx.org 2.0.11 (sha512-")
    assert (PACKAGE / "static" / "htmx.LICENSE").read_text(encoding="utf-8").startswith("Zero-Clause BSD")


def test_the_templates_load_only_the_packages_static_files_and_its_own_routes():
    references = []
    for template in sorted((PACKAGE / "templates").glob("*.html")):
        text = template.read_text("utf-8")
        # one the server makes whole (``{{ url }}...``) is left out here: the page tests follow those
        references += [ref for ref in re.findall(r"""(?:src|href|action|hx-get|data-live)="([^"{]*)""", text) if ref]
    assert references, "the templates refer to nothing?"
    assert all(ref.startswith(("/", "#")) for ref in references), [r for r in references if not r.startswith("/")]
    for ref in references:
        if ref.startswith("/static/"):
            assert (PACKAGE / "static" / ref.removeprefix("/static/")).is_file(), ref
    text = "".join(p.read_text("utf-8") for p in (PACKAGE / "static").glob("*.[cj]s*") if p.name != "htmx.min.js")
    assert not re.search(r"https?://", text), "the stylesheet or the page script refers to another site"
