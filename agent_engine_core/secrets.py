"""``Secret``: a credential value that redacts itself wherever it could be printed, logged or serialised.

The value is reachable only through ``reveal()``, which a provider adapter calls at the one place it hands the
key to its SDK. ``repr``, ``str``, ``format``, pickling, copying into JSON and equality all keep it hidden, so
a secret that ends up in an f-string, a log call, an exception or a ``model_dump`` shows as ``'********'``.
``redact`` removes the values of known secrets from text that came from elsewhere (a provider's error
message can echo the key it was sent).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

__all__ = ["REDACTED", "Secret", "redact"]

REDACTED = "********"


class Secret:
    """A secret value; ``reveal()`` is the only way to read it."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, *, origin: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError(f"the secret from {origin} is empty")
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "origin", origin)

    origin: str
    """Where the value came from (``env:OPENAI_API_KEY``, ``file:/run/keys/openai.json#key``): safe to show."""

    def reveal(self) -> str:
        """The value itself: call it only where it is handed to the client that needs it."""
        value: str = object.__getattribute__(self, "_value")
        return value

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
    """``text`` with every occurrence of the secrets' values replaced by ``********``."""
    for secret in secrets:
        value = secret.reveal()
        if value in text:
            text = text.replace(value, REDACTED)
    return text
