"""Take files out of a pinned npm package, checked against npm's integrity hash: how browser assets are vendored.

``npm pack NAME@VERSION`` fetches the tarball (the registry is reachable when vendoring, never at test or run
time); its SHA-512 must be the pinned ``dist.integrity`` (``npm view NAME@VERSION dist.integrity``), so what was
reviewed is what gets vendored.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path


def integrity(data: bytes) -> str:
    """The Subresource Integrity string npm records for a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def package_files(name: str, version: str, pinned: str, members: Sequence[str]) -> dict[str, bytes]:
    """The bytes of ``members`` (``package/...`` paths) of ``name@version``, whose tarball must be ``pinned``."""
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", scratch],
                       check=True, capture_output=True)
        tarball = next(Path(scratch).glob("*.tgz"))
        found = integrity(tarball.read_bytes())
        if found != pinned:
            raise SystemExit(f"{name}@{version}: the tarball's integrity is {found}, not the pinned {pinned}")
        files = {}
        with tarfile.open(tarball) as archive:
            for member in members:
                extracted = archive.extractfile(member)
                if extracted is None:
                    raise SystemExit(f"{name}@{version} has no {member}")
                files[member] = extracted.read()
    return files
