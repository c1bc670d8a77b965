"""``Secret``: a credential value that redacts itself wherever it could be printed, logged or serialised.

The value is reachable only through ``reveal()``, which a provider adapter calls at the one place it hands the
key to its SDK. ``repr``, ``str``, ``format``, pickling, copying into JSON and equality all keep it hidden, so
a secret that ends up in an f-string, a log call, an exception or a ``model_dump`` shows as ``'********'``.
``redact`` removes known secrets from text that came from elsewhere (a provider's error message can echo the key
it was sent): not only the exact value, which a message may quote escaped, in part or encoded, but each of the
forms listed by ``forms_of``.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterable
from typing import Any, NoReturn

__all__ = ["MIN_FRAGMENT", "REDACTED", "Secret", "forms_of", "redact"]

REDACTED = "********"

MIN_FRAGMENT = 8
"""The shortest part or encoding of a secret that ``redact`` replaces (the whole value is replaced at any length)."""


class Secret:
    """A secret value; ``reveal()`` is the only way to read it."""

    __slots__ = ("_forms", "_value", "origin")

    def __init__(self, value: str, *, origin: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError(f"the secret from {origin} is empty")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "_forms", None)

    origin: str
    """Where the value came from (``env:OPENAI_API_KEY``, ``file:/run/keys/openai.json#key``): safe to show."""

    def reveal(self) -> str:
        """The value itself: call it only where it is handed to the client that needs it."""
        value: str = object.__getattribute__(self, "_value")
        return value

    def forms(self) -> tuple[str, ...]:
        """Every text ``redact`` replaces for this secret (``forms_of`` its value), computed once."""
        found: tuple[str, ...] | None = object.__getattribute__(self, "_forms")
        if found is None:
            found = forms_of(self.reveal())
            object.__setattr__(self, "_forms", found)
        return found

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("a Secret cannot be changed")

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r}, origin={self.origin!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled or deep-copied; pass the credential id instead")

    def __eq__(self, other: object) -> bool:
        return self is other  # value comparison would let a caller probe for the secret

    def __hash__(self) -> int:
        return id(self)


def redact(text: str, secrets: Iterable[Secret]) -> str:
    """``text`` with every form of the secrets' values (see ``Secret.forms``) replaced by ``********``."""
    for secret in secrets:
        for form in secret.forms():
            if form in text:
                text = text.replace(form, REDACTED)
    return text


def forms_of(value: str) -> tuple[str, ...]:
    """The texts by which ``value`` can show up in a message: what ``redact`` replaces, longest first.

    The value itself, its stripped form, each line of it and each line stripped; for each of these, its escaped
    form in ``repr`` of the text and of its UTF-8 bytes and in JSON (an HTTP client quoting a header it refused)
    and its percent-encodings (a URL, with and without ``/`` kept); and the value's base64 and urlsafe base64
    (an ``Authorization: Basic`` header echoed back) at each of the three alignments it can have inside a longer
    encoded text. Fragments
    shorter than ``MIN_FRAGMENT`` characters are left out: they would redact innocent text (and a loaded key is
    one line, so it has no fragments at all).
    """
    pieces = {value, value.strip()}
    for line in value.splitlines():
        pieces.update((line, line.strip()))
    found: set[str] = set()
    for piece in pieces:
        found.update((piece, repr(piece)[1:-1], repr(piece.encode("utf-8", "surrogatepass"))[2:-1],
                      json.dumps(piece)[1:-1], json.dumps(piece, ensure_ascii=False)[1:-1],
                      urllib.parse.quote(piece, safe=""), urllib.parse.quote_plus(piece, safe=""),
                      urllib.parse.quote(piece), urllib.parse.quote_plus(piece)))
    raw = value.encode("utf-8", "surrogatepass")
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            found.add(_aligned(encode(b"\0" * shift + raw).decode("ascii"), shift, len(raw)))
    return tuple(sorted((f for f in found if len(f) >= MIN_FRAGMENT or f == value), key=len, reverse=True))


def _aligned(encoded: str, shift: int, size: int) -> str:
    """The characters of ``encoded`` that depend on the value's bytes only, whatever surrounds them.

    ``encoded`` is the base64 of ``shift`` filler bytes then the value: characters covering a filler byte, or the
    last group when it is incomplete (it mixes in the bytes that follow in a real message), are dropped.
    """
    start = (4 * shift + 2) // 3  # the first character made of value bits only
    end = 4 * ((shift + size) // 3)  # the end of the last complete group
    return encoded[start:end]
