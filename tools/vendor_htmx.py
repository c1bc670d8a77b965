"""Vendor htmx into ``agent_engine_plugins/ui/agent_engine_ui/static/``: the web inspector's only third-party script.

Nothing is fetched from a CDN when the inspector runs: the pages load this copy from the package. The script
takes ``dist/htmx.min.js`` and the LICENSE of the pinned package (checked against npm's integrity hash by
``vendor_npm.py``) and writes them with a VERSION line. To move to another version, change ``VERSION`` and
``INTEGRITY`` together (``npm view htmx.org@X dist.integrity``), run ``python tools/vendor_htmx.py``, and put the
SHA-256 it prints in ``agent_engine_plugins/ui/tests/test_ui_assets.py``.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from vendor_npm import package_files

VERSION = "2.0.11"
INTEGRITY = "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
TARGET = Path(__file__).resolve().parents[1] / "agent_engine_plugins" / "ui" / "agent_engine_ui" / "static"
SCRIPT = "package/dist/htmx.min.js"
LICENSE = "package/LICENSE"


def main() -> int:
    """Write the script, its license and its version; print the script's SHA-256."""
    files = package_files("htmx.org", VERSION, INTEGRITY, [SCRIPT, LICENSE])
    (TARGET / "htmx.min.js").write_bytes(files[SCRIPT])
    (TARGET / "htmx.LICENSE").write_bytes(files[LICENSE])
    (TARGET / "htmx.VERSION").write_text(f"htmx.org {VERSION} ({INTEGRITY})\n", encoding="utf-8")
    print(f"htmx.org {VERSION}: {TARGET / 'htmx.min.js'}, sha256 {hashlib.sha256(files[SCRIPT]).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
