"""The secret ledger: what a test session produced that must not contain its canary API key.

``secret_ledger`` (a session fixture of ``agent_engine_core.testing.plugin``) sets ``AGENT_ENGINE_TEST_API_KEY``
to a unique canary value, and while it is in use ``listening`` collects every log line (stdlib logging at
DEBUG, and structlog) besides whatever tests hand to ``secret_ledger.add(...)`` (results, traces, events, CLI
output, exception text); when the session ends the fixture fails it if any of that, or any file under the
session's temporary directory, contains the canary -- or one of its lines, its escaped, percent-encoded or
base64 forms (``find_secret``). Tests that send the key on purpose (to a fake provider server) record it in
``servers_that_saw_it``, so a check can prove the key was really used. Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import LlmReply, LlmRequest
from agent_engine_core.secrets import forms_of

__all__ = ["CANARY_ENV", "SecretLedger", "find_secret", "listening"]

CANARY_ENV = "AGENT_ENGINE_TEST_API_KEY"


@dataclass
class SecretLedger:
    """What the session produced that must not contain the canary, and who received the canary on purpose."""

    canary: str
    texts: list[str] = field(default_factory=list)
    servers_that_saw_it: set[str] = field(default_factory=set)

    def add(self, *items: Any) -> None:
        """Keep the text form of each item (objects by ``repr`` and ``str``: both must be clean)."""
        for item in items:
            if isinstance(item, bytes):
                self.texts.append(item.decode("utf-8", "replace"))
            elif isinstance(item, str):
                self.texts.append(item)
            else:
                self.texts.extend((repr(item), str(item)))

    def complete(self, provider: Any, request: LlmRequest) -> LlmReply:
        """``provider.complete(request)``: the reply, its text form recorded (a provider adapter's tests)."""
        reply: LlmReply = provider.complete(request)
        self.add(reply, reply.to_dict())
        return reply

    def refusal(self, provider: Any, request: LlmRequest) -> ProviderError:
        """The ``ProviderError`` that ``provider.complete(request)`` must raise, its text form recorded."""
        try:
            provider.complete(request)
        except ProviderError as refused:
            self.add(refused, *refused.args)
            return refused
        raise AssertionError(f"{type(provider).__name__}.complete(request) answered instead of raising ProviderError")

    def leaks(self, folder: Path | None = None) -> list[str]:
        """Where the canary is, in any form ``redact`` removes: each recorded text and each file under ``folder``."""
        return find_secret(self.canary, self.texts, folder)


def find_secret(value: str, texts: Iterable[str], folder: Path | None = None) -> list[str]:
    """The start of each of ``texts``, and each file under ``folder``, holding ``value`` in any of its forms.

    The forms are ``forms_of(value)``: the value, each of its lines, stripped, escaped as ``repr`` and JSON
    quote it, percent-encoded and base64-encoded -- a check of the exact value alone would pass a message that
    quotes the key escaped or encoded.
    """
    forms = forms_of(value)
    found = [text[:120] for text in texts if any(form in text for form in forms)]
    if folder is not None:
        needles = [form.encode("utf-8", "surrogatepass") for form in forms]
        for path in sorted(folder.rglob("*")):
            data = path.read_bytes() if path.is_file() else b""
            if any(needle in data for needle in needles):
                found.append(str(path))
    return found


class _LogLedger(logging.Handler):
    def __init__(self, ledger: SecretLedger) -> None:
        super().__init__(level=logging.DEBUG)
        self.ledger = ledger

    def emit(self, record: logging.LogRecord) -> None:
        self.ledger.add(self.format(record))


@contextlib.contextmanager
def listening(ledger: SecretLedger) -> Iterator[SecretLedger]:
    """While open, every stdlib log line (root logger at DEBUG) and every structlog event is added to ``ledger``.

    Logging is restored on exit. The CLI configures structlog on each invocation, so while open
    ``structlog.configure`` keeps the ledger's processor first in whatever processors it is given.
    """
    import structlog  # noqa: PLC0415 - only sessions that keep a ledger touch structlog

    handler = _LogLedger(ledger)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # every library's debug lines (the SDKs', httpx's) are checked too
    processors = structlog.get_config()["processors"]
    configure = structlog.configure

    def to_ledger(logger: Any, method: str, event: Any) -> Any:
        ledger.add(repr(event))
        return event

    def configure_with_ledger(*args: Any, **kwargs: Any) -> None:
        if kwargs.get("processors") is not None:
            kwargs["processors"] = [to_ledger, *(p for p in kwargs["processors"] if p is not to_ledger)]
        configure(*args, **kwargs)

    structlog.configure = configure_with_ledger
    configure(processors=[to_ledger, *processors])
    try:
        yield ledger
    finally:
        structlog.configure = configure
        configure(processors=processors)
        root.removeHandler(handler)
        root.setLevel(level)
