"""Vendor mermaid's browser bundle into ``tests/vendor/mermaid/``: the parser the docs' diagrams are checked with.

The docs' Mermaid blocks are parsed and rendered by mermaid itself, in Debian's chromium driven by playwright
(``tests/test_mermaid_blocks.py``), offline: nothing is fetched at test time. This script is how the bundle got
there, and how it is moved to another version: it asks npm for the pinned package, checks the tarball against
the pinned integrity (``vendor_npm.py``), and writes ``dist/mermaid.min.js`` (gzipped, reproducibly: 3.5 MB is
1 MB) and the package's LICENSE. Change ``VERSION`` and ``INTEGRITY`` together (``npm view mermaid@X
dist.integrity``), run ``python tools/vendor_mermaid.py``, then put the new bundle's SHA-256, which it prints, in
the test.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

from vendor_npm import package_files

VERSION = "11.17.2"
INTEGRITY = "sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg=="
"""npm's ``dist.integrity`` of the tarball: what was reviewed is what gets vendored."""
TARGET = Path(__file__).resolve().parents[1] / "tests" / "vendor" / "mermaid"
BUNDLE = "package/dist/mermaid.min.js"
LICENSE = "package/LICENSE"


def main() -> int:
    """Write the bundle and the license; print the bundle's SHA-256 for the test to pin."""
    files = package_files("mermaid", VERSION, INTEGRITY, [BUNDLE, LICENSE])
    script = files[BUNDLE]
    TARGET.mkdir(parents=True, exist_ok=True)
    (TARGET / "mermaid.min.js.gz").write_bytes(gzip.compress(script, compresslevel=9, mtime=0))
    (TARGET / "LICENSE").write_bytes(files[LICENSE])
    (TARGET / "VERSION").write_text(f"mermaid {VERSION} ({INTEGRITY})\n", encoding="utf-8")
    print(f"mermaid {VERSION}: {TARGET / 'mermaid.min.js.gz'}, bundle sha256 {hashlib.sha256(script).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
