"""The deployment fingerprint: what an engine runs on, summed up in one SHA-256 so deployments compare by a value.

It is built from the engine's own metadata (engine version, plugin distributions and versions, manifest and
schema hashes: the same values every result carries) plus the interpreter and the platform. The platform is its
system and machine only: a kernel release or host name differs between hosts running the same image, and two
such deployments must compare equal. Nothing here reaches the canonical trace, so it never changes a digest.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from agent_engine_core.codec import plain

__all__ = ["FIELDS", "deployment", "recorded"]

FIELDS = ("engine_version", "plugins", "manifests", "schemas", "python", "platform")
"""What the fingerprint covers, in the order it is shown."""


def deployment(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    """Every field of ``FIELDS`` from the engine's ``metadata`` and the running interpreter, and their ``fingerprint``.

    The fingerprint is the SHA-256 of the fields as canonical JSON (sorted keys, no spaces, UTF-8).
    """
    described: dict[str, Any] = {
        "engine_version": metadata["engine_version"],
        "plugins": plain(metadata["plugins"]),
        "manifests": plain(metadata["manifests"]),
        "schemas": plain(metadata["schemas"]),
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation()},
        "platform": {"system": platform.system(), "machine": platform.machine()},
    }
    canonical = json.dumps(described, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**described, "fingerprint": hashlib.sha256(canonical.encode()).hexdigest()}


def recorded(described: Mapping[str, Any]) -> Mapping[str, Any]:
    """What every result's metadata keeps of a deployment: the fingerprint, and the Python version beside it."""
    return MappingProxyType({"fingerprint": described["fingerprint"], "python": described["python"]["version"]})
