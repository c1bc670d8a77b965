"""Secrets of any shape: an unusable key is refused at load without a byte of it; a usable one never leaks.

A key is refused when, stripped of surrounding whitespace, it is more than one line or holds a control
character (the shape an HTTP client refuses in a header with a message quoting it). A key a provider echoes back
-- whole, escaped, percent-encoded or base64-encoded -- is redacted in every channel the core reaches: exception
``str``/``repr``, the result and its record, CLI output with and without ``--debug``, ``-vv``, ``--log-json``,
``--json``, ``--record``, trace files, memory stores, metrics files and OpenTelemetry spans.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import urllib.parse
import uuid
from pathlib import Path

import pytest
import structlog
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine, ManifestError, ProviderError, hookimpl
from agent_engine_core.cli import main
from agent_engine_core.llm import LlmReply, LlmRequest, ProviderSetup
from agent_engine_core.secrets import MIN_FRAGMENT, REDACTED, Secret, forms_of, redact
from agent_engine_core.testing import SecretLedger, find_secret

KEY_VAR = "AE_SHAPE_KEY"
ISSUE_KEY = "sk-CANARY-0123456789abcdef\n# rotated 2024-05-01\n"
SHAPES = settings(max_examples=12, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

printable = st.characters(categories=["L", "M", "N", "P", "S", "Zs"], exclude_characters="*")
edges = st.text(alphabet=" \t\n\r", max_size=3)
line_breaks = st.sampled_from(["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
controls = st.characters(categories=["Cc", "Cf"], exclude_characters="\x00")


@st.composite
def tokens(draw: st.DrawFn) -> str:
    """Printable text with a unique marker: short, with spaces, unicode, or very long."""
    body = draw(st.one_of(st.text(alphabet=printable, max_size=40), st.text(alphabet=printable, min_size=2000,
                                                                             max_size=4000)))
    return f"sk-{uuid.uuid4().hex[:10]}{body}".strip()


@st.composite
def invalid_keys(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A key that is several lines, or a line with a control character inside; and its parts."""
    parts = draw(st.lists(tokens(), min_size=2, max_size=4))
    if draw(st.booleans()):
        separators = [draw(line_breaks) for _ in parts[1:]]
    else:
        separators = [draw(controls) for _ in parts[1:]]
    key = parts[0] + "".join(s + p for s, p in zip(separators, parts[1:], strict=True))
    return draw(edges) + key + draw(edges), parts


# ---- the pieces: redact and the load-time check ---------------------------------------------------------------


def encodings(key: str) -> list[str]:
    """How a provider or HTTP client may quote a key it was sent."""
    raw = key.encode()
    return [key, repr(("Bearer " + key).encode()), json.dumps(key), urllib.parse.quote(key),
            base64.b64encode(b"user:" + raw + b"!").decode(), base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(b"x" + raw).decode(), *(line for line in key.splitlines())]


@example(key="00000000000000/\x1b", before="", after="")  # a URL path keeps '/': percent-encoded without it too
@given(key=st.text(min_size=1, max_size=300).filter(lambda k: REDACTED not in k and k not in REDACTED and k.strip()),
       before=st.text(max_size=20), after=st.text(max_size=20))
def test_redact_removes_every_form_of_a_secret_of_any_shape(key, before, after):
    secret = Secret(key, origin="test")
    for quoted in encodings(key):
        text = redact(f"{before}{quoted}{after}", [secret])
        assert find_secret(key, [text]) == [], (quoted, text)
        if quoted not in key.splitlines() and len(key.strip()) >= 2 * MIN_FRAGMENT:
            assert REDACTED in text  # the whole key, however quoted, is found (not just absent by accident)


def test_fragments_shorter_than_the_minimum_are_not_redacted():
    secret = Secret("sk-0123456789\nab\n", origin="test")
    assert redact("a tab and sk-0123456789", [secret]) == f"a tab and {REDACTED}"
    assert all(len(form) >= MIN_FRAGMENT for form in forms_of("sk-0123456789\nab\n"))


def credentials_yaml(auth: dict) -> str:
    return yaml.safe_dump({"provider_credentials": [{"id": "main", "provider": "echo", "auth": auth}]})


def project(folder: Path, auth: dict, *, plugins: list | None = None, config: dict | None = None) -> Path:
    """start -> ask (agent bot on the echo provider) -> exit, with ``auth`` in provider_credentials.yaml."""
    workflow = {"version": "1.0", "nodes": [{"id": "s", "role": "start"},
                                            {"id": "ask", "role": "linear", "kind": "agent", "agent_id": "bot"},
                                            {"id": "x", "role": "exit"}],
                "edges": [{"from": "s", "to": "ask"}, {"from": "ask", "to": "x"}]}
    agents = {"agents": [{"id": "bot", "llm": "echo/m-1", "prompt": "Be exact.",
                          "config": {"max_attempts": 1, **(config or {})}}]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "workflow.yaml").write_text(yaml.safe_dump(workflow))
    (folder / "agents.yaml").write_text(yaml.safe_dump(agents))
    (folder / "provider_credentials.yaml").write_text(credentials_yaml(auth))
    if plugins:
        (folder / "plugins.yaml").write_text(yaml.safe_dump({"plugins": plugins}))
        (folder / "memory.yaml").write_text(yaml.safe_dump(
            {"memory": {"project_store": {"backend": "sqlite", "config": {"path": "state/memory.db"}},
                        "global_store": {"backend": "jsonl", "config": {"path": "state/global"}}}}))
    return folder


class Echo:
    """The ``echo`` provider: its calls (and, with ``fail_at_load``, its factory) fail quoting the key."""

    @hookimpl
    def register_llm_providers(self, register):
        register("echo", EchoProvider)


class EchoProvider:
    def __init__(self, setup: ProviderSetup) -> None:
        self.key = setup.credential.api_key.reveal()
        if setup.agent.config.get("fail_at_load"):
            raise ProviderError(f"the server refused {' / '.join(encodings(self.key))}")
        self.plain = bool(setup.agent.config.get("plain_exception"))
        self.fail_at_close = bool(setup.agent.config.get("fail_at_close"))

    def close(self) -> None:
        if self.fail_at_close:
            raise RuntimeError(f"connection pool of {self.key!r} already closed")

    def complete(self, request: LlmRequest) -> LlmReply:
        if self.plain:  # what an HTTP client raises for a header it refuses
            raise ValueError(f"Illegal header value {('Bearer ' + self.key).encode()!r}")
        raise ProviderError(f"401: Incorrect API key provided: {' / '.join(encodings(self.key))}", status=401)

    def check(self, node_ids):
        return []

    def describe(self):
        return {"sdk": "echo", "sdk_version": "1.0"}


@pytest.fixture
def echo_installed(fake_entry_points):
    """The echo provider and every installed distribution's plugin, as the CLI and engines discover them."""
    real = [(p.name, p.value, p.dist.name if p.dist else "?")
            for p in importlib.metadata.entry_points(group="agent_engine")]
    fake_entry_points(("echo", Echo()), *real)


@pytest.fixture
def cli(monkeypatch):
    """``cli(*args, env=...)``: stdout + stderr of ``agent-engine`` run in this process (plugins as faked)."""
    runner = CliRunner()

    def invoke(*args, env=None):
        saved = structlog.get_config()
        try:
            done = runner.invoke(main, [str(a) for a in args], env=env)
        finally:
            structlog.configure(**saved)  # the CLI points structlog at the runner's stream, closed after
        return done.stdout + done.stderr

    return invoke


def test_the_issue_key_file_is_a_located_load_error_that_never_quotes_it(tmp_path, echo_installed, cli):
    key_file = tmp_path / "key.txt"
    key_file.write_text(ISSUE_KEY)
    folder = project(tmp_path / "p", {"type": "api_key", "source": "file", "file_path": str(key_file)})
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(folder)
    (issue,) = caught.value.issues
    assert issue.file.endswith("provider_credentials.yaml") and issue.line is not None
    assert issue.code == "credentials.unresolved"
    assert "credential 'main'" in issue.message and str(key_file) in issue.message and "2 lines" in issue.message
    outputs = [str(caught.value), repr(caught.value), repr(issue), cli("validate", folder),
               cli("--debug", "run", folder, "--input", "{}")]
    assert find_secret(ISSUE_KEY, outputs) == []
    assert all("sk-CANARY" not in text and "rotated" not in text for text in outputs)


@SHAPES
@given(shape=invalid_keys(), source=st.sampled_from(["file", "file_key", "env"]))
def test_an_unusable_key_of_any_shape_is_refused_at_load_without_a_byte_of_it(
        tmp_path_factory, echo_installed, cli, shape, source):
    key, parts = shape
    folder = tmp_path_factory.mktemp("invalid")
    env = {}
    if source == "env":
        auth = {"source": "env", "env_var": KEY_VAR}
        env[KEY_VAR] = key
    else:
        path = folder / ("key.json" if source == "file_key" else "key.txt")
        path.write_text(json.dumps({"llm": {"key": key}}) if source == "file_key" else key, encoding="utf-8")
        auth = {"source": "file", "file_path": str(path), **({"file_key": "llm.key"} if source == "file_key" else {})}
    folder = project(folder / "p", {"type": "api_key", **auth})
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        with pytest.raises(ManifestError) as caught:
            Engine.from_config_dir(folder)
    (issue,) = caught.value.issues
    assert issue.code == "credentials.unresolved" and issue.file.endswith("provider_credentials.yaml")
    assert (KEY_VAR if source == "env" else "key.") in issue.message
    outputs = [str(caught.value), repr(caught.value), repr(caught.value.issues),
               *(cli(*flags, "validate", folder, env=env) for flags in ((), ("--debug",))),
               cli("--debug", "-vv", "run", folder, "--input", "{}", env=env)]
    assert find_secret(key, outputs) == []
    assert [part for part in parts if any(part in text for text in outputs)] == []


# ---- a usable key echoed back by its provider, in every channel -------------------------------------------------


PLUGINS = [{"id": "log", "config": {"level": "info"}}, {"id": "trace_file", "config": {"path": "traces"}},
           {"id": "metrics", "config": {"textfile": "metrics.prom"}},
           {"id": "otel", "config": {"capture_content": True}}]


@pytest.fixture
def spans():
    """OpenTelemetry spans of the engines built in the test, when agent-engine-otel is installed."""
    try:
        import agent_engine_otel as otel  # an optional distribution
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export import in_memory_span_exporter as exporters
    except ImportError:  # the otel part of the check is left out; the other channels are still checked
        yield list
        return

    exporter, reader = exporters.InMemorySpanExporter(), InMemoryMetricReader()
    tracer = TracerProvider(shutdown_on_exit=False)
    tracer.add_span_processor(SimpleSpanProcessor(exporter))
    meter = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    otel.use_providers(tracer, meter)
    try:
        yield lambda: [span.to_json() for span in exporter.get_finished_spans()] + [
            reader.get_metrics_data().to_json()]
    finally:
        otel.use_providers()
        tracer.shutdown()
        meter.shutdown()


def installed_plugins() -> list[dict]:
    names = {p.name for p in importlib.metadata.entry_points(group="agent_engine")}
    wanted = {"trace_file": "telemetry-jsonl", "metrics": "metrics", "otel": "otel", "log": None}
    return [p for p in PLUGINS if wanted[p["id"]] is None or wanted[p["id"]] in names]


@SHAPES
@given(body=tokens(), before=edges, after=edges, plain=st.booleans())
def test_a_usable_key_a_provider_echoes_is_redacted_in_every_channel(
        tmp_path_factory, echo_installed, cli, spans, body, before, after, plain):
    key = before + body + after
    folder = project(tmp_path_factory.mktemp("echoed") / "p", {"type": "api_key", "source": "env", "env_var": KEY_VAR},
                     plugins=installed_plugins(), config={"plain_exception": plain})
    env = {KEY_VAR: key}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_VAR, key)
        with Engine.from_config_dir(folder) as engine:
            result = engine.run({"q": 1})
        refused = project(folder.parent / "refused", {"type": "api_key", "source": "env", "env_var": KEY_VAR},
                          config={"fail_at_load": True})
        with pytest.raises(ManifestError) as caught:
            Engine.from_config_dir(refused)
    assert result.error is not None and REDACTED in result.error["message"]
    outputs = [json.dumps(result.to_dict(with_trace=True)), repr(result), result.trace.canonical().decode(),
               str(caught.value), repr(caught.value), *spans(),
               cli("run", folder, "--input", "{}", "--json", "--record", folder / "record.json", env=env),
               cli("run", folder, "--input", "{}", env=env),
               cli("--debug", "run", folder, "--input", "{}", env=env),
               cli("-vv", "run", folder, "--input", "{}", env=env),
               cli("--log-json", "-vv", "run", folder, "--input", "{}", env=env),
               *(cli(*flags, "validate", refused, env=env) for flags in ((), ("--debug",)))]
    assert REDACTED in outputs[-1]
    assert (folder / "record.json").is_file() and any((folder / "traces").glob("*.jsonl")) == bool(
        [p for p in installed_plugins() if p["id"] == "trace_file"])
    assert find_secret(key.strip(), outputs, folder.parent) == []


def test_the_session_ledger_finds_the_canary_encoded_escaped_or_in_part(tmp_path):
    ledger = SecretLedger(canary=f"sk-canary-{uuid.uuid4().hex}\nsecond-line-{uuid.uuid4().hex}")
    first, second = ledger.canary.splitlines()
    raw = ledger.canary.encode()
    quoted = [base64.b64encode(b"u:" + raw).decode(), base64.urlsafe_b64encode(raw).decode(),
              repr(raw), json.dumps(ledger.canary), urllib.parse.quote(ledger.canary), first, f"x {second} y"]
    ledger.add(*quoted)
    assert len(ledger.leaks()) == len(quoted)
    (tmp_path / "trace.jsonl").write_text(json.dumps({"error": base64.b64encode(b"a" + raw + b"z").decode()}))
    assert ledger.leaks(tmp_path)[-1] == str(tmp_path / "trace.jsonl")


@pytest.mark.parametrize(("source", "value", "expected"), [
    ("env", "sk-first-line-0123\nsk-second-line-4567", f"the environment variable {KEY_VAR} has 2 lines"),
    ("file_key", "sk-first-line-0123\rsk-second-line-4567", "the value at 'llm.key' in "),
    ("file", "sk-first-line-0123\x07sk-second-line-4567", "holds a control or format character"),
    ("file", "  sk-first-line-0123\u200bsk-second-line-4567\n", "holds a control or format character"),
])
def test_each_source_names_where_the_unusable_key_is_and_what_is_wrong(tmp_path, monkeypatch, echo_installed,
                                                                      source, value, expected):
    path = tmp_path / ("key.json" if source == "file_key" else "key.txt")
    path.write_text(json.dumps({"llm": {"key": value}}) if source == "file_key" else value)
    auth = ({"source": "env", "env_var": KEY_VAR} if source == "env" else
            {"source": "file", "file_path": str(path), **({"file_key": "llm.key"} if source == "file_key" else {})})
    monkeypatch.setenv(KEY_VAR, value)
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(project(tmp_path / "p", {"type": "api_key", **auth}))
    (issue,) = caught.value.issues
    assert expected in issue.message and issue.message.startswith("credential 'main': ")
    assert issue.hint and "one line" in issue.hint
    assert "first-line" not in repr(caught.value) and "second-line" not in str(caught.value)


def test_a_provider_that_fails_to_close_quoting_its_key_is_redacted(tmp_path, monkeypatch, echo_installed, cli):
    key = f"sk-close-{uuid.uuid4().hex}"
    monkeypatch.setenv(KEY_VAR, key)
    folder = project(tmp_path / "p", {"type": "api_key", "source": "env", "env_var": KEY_VAR},
                     config={"fail_at_close": True})
    with pytest.raises(ProviderError) as caught, Engine.from_config_dir(folder) as engine:
        engine.run({})
    assert "provider 'echo' failed to close: RuntimeError: connection pool of '********'" in str(caught.value)
    outputs = [str(caught.value), repr(caught.value), *(cli(*flags, "run", folder, "--input", "{}")
                                                        for flags in ((), ("--debug",)))]
    assert find_secret(key, outputs) == []
