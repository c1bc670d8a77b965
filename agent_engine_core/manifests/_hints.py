"""Hints of located issues, shared by the loader and the build passes (no pydantic: the build imports it early)."""

from __future__ import annotations

import difflib
from collections.abc import Collection

__all__ = ["did_you_mean"]


def did_you_mean(name: str, known: Collection[str]) -> str | None:
    """The hint for a reference to ``name`` that ``known`` lacks: the closest known name, if one is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
