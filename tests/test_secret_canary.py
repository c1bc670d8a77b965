"""The session's canary API key reached the fake provider servers and nothing else (runs last: see conftest.py)."""

from __future__ import annotations

from pathlib import Path

PROVIDER_ADAPTERS = {"openai", "anthropic"}


def test_no_history_event_log_output_or_file_of_the_session_contains_the_canary(secret_ledger, request,
                                                                               tmp_path_factory):
    assert secret_ledger.leaks(Path(tmp_path_factory.getbasetemp())) == []
    adapters = {item.path.parts[item.path.parts.index("adapters") + 1] for item in request.session.items
                if "adapters" in item.path.parts}
    providers = adapters & PROVIDER_ADAPTERS
    # the check above proves something only if the key was really used: each provider's fake server saw it
    assert secret_ledger.servers_that_saw_it >= providers
    assert secret_ledger.texts or not providers
