"""Plugin discovery: entry points in sorted order, guarded loading, env switches, duplicates, the CLI listing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_engine_core import Engine, ManifestError, PluginError, hookimpl
from agent_engine_core._build.components import KNOWN_COMPONENTS, REPOSITORY_DISTRIBUTIONS, distribution_hint
from agent_engine_core.cli import main

WORKFLOW = {
    "version": "1.0",
    "nodes": [{"id": "s", "role": "start"}, {"id": "e", "role": "exit"}],
    "edges": [{"from": "s", "to": "e"}],
}


def write_distribution(root: Path, name: str, module_source: str, *, version: str = "1.2.3") -> None:
    """A real, importable distribution: a module plus a .dist-info with an agent_engine entry point."""
    package = f"agent_engine_{name.replace('-', '_')}"
    (root / f"{package}.py").write_text(textwrap.dedent(module_source))
    info = root / f"agent_engine_{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: agent-engine-{name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[agent_engine]\n{name} = {package}\n")


OBSERVER_AND_PROVIDER = """
    from agent_engine_core import hookimpl, LlmReply

    SEEN = []

    class EchoProvider:
        def __init__(self, setup):
            self.model = setup.model
        def check(self, node_ids):
            return []
        async def complete(self, request):
            return LlmReply(content='"yes"', model=self.model)

    @hookimpl
    def register_llm_providers(register):
        register("echo", EchoProvider)

    @hookimpl
    def on_task_finished(event):
        SEEN.append((event.task_id, event.status))
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path whose distributions importlib.metadata discovers like installed ones."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("AGENT_ENGINE_LOAD_PLUGINS", raising=False)
    return root


def test_a_new_distribution_adds_an_observer_and_a_provider_without_core_changes(site):
    write_distribution(site, "acme", OBSERVER_AND_PROVIDER)
    manifests = {
        "workflow": {
            "version": "1.0",
            "nodes": [
                {"id": "s", "role": "start"},
                {"id": "ask", "kind": "agent", "role": "linear", "agent_id": "a"},
                {"id": "e", "role": "exit"},
            ],
            "edges": [{"from": "s", "to": "ask"}, {"from": "ask", "to": "e"}],
        },
        "agents": {"agents": [{"id": "a", "llm": "echo/m1"}]},
    }
    engine = Engine.from_dict(manifests)
    result = engine.run({"q": 1}, run_id="r")
    import agent_engine_acme  # the module the entry point loaded

    assert result.output == "yes"
    assert agent_engine_acme.SEEN == [("r", "success")]
    assert result.metadata["plugins"]["agent-engine-acme"] == "1.2.3"
    assert result.metadata["providers"] == {"echo": "agent-engine-acme"}
    loaded = {p.distribution: p for p in engine.plugins.loaded}
    assert loaded["agent-engine-acme"].components == ("llm_provider:echo",)
    assert set(loaded["agent-engine-acme"].hooks) == {"register_llm_providers", "on_task_finished"}


def test_cli_plugins_lists_the_distribution_and_the_broken_one(site):
    write_distribution(site, "acme", OBSERVER_AND_PROVIDER)
    write_distribution(site, "broken", "raise ImportError('missing dependency: frobnicate')\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", None)
    done = subprocess.run([sys.executable, "-m", "agent_engine_core.cli", "plugins", "--json"],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    acme = next(p for p in listing["loaded"] if p["distribution"] == "agent-engine-acme")
    assert acme["version"] == "1.2.3"
    assert acme["components"] == ["llm_provider:echo"]
    assert "on_task_finished" in acme["hooks"]
    broken = next(f for f in listing["failed"] if f["distribution"] == "agent-engine-broken")
    assert "frobnicate" in broken["reason"]
    human = subprocess.run([sys.executable, "-m", "agent_engine_core.cli", "plugins"],
                           capture_output=True, text=True, env=env, check=False)
    assert "FAILED agent-engine-broken" in human.stdout
    assert "Traceback" not in human.stdout + human.stderr


def test_a_broken_entry_point_leaves_the_engine_working(site, monkeypatch):
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")
    clean = Engine.from_dict({"workflow": WORKFLOW}).run(7, run_id="r")
    monkeypatch.delenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD")
    write_distribution(site, "broken", "raise RuntimeError('boom at import')\n")
    engine = Engine.from_dict({"workflow": WORKFLOW})
    result = engine.run(7, run_id="r")
    assert (result.status, result.output, result.trace.digest) == (clean.status, clean.output, clean.trace.digest)
    failure = next(f for f in engine.plugins.failed if f.distribution == "agent-engine-broken")
    assert "boom at import" in failure.reason


def test_a_plugin_implementing_an_unknown_hook_is_skipped(site):
    write_distribution(site, "typo", """
        from agent_engine_core import hookimpl

        @hookimpl
        def on_nod_finished(event):
            pass
    """)
    engine = Engine.from_dict({"workflow": WORKFLOW})
    failure = next(f for f in engine.plugins.failed if f.distribution == "agent-engine-typo")
    assert "on_nod_finished" in failure.reason
    assert all(p.distribution != "agent-engine-typo" for p in engine.plugins.loaded)


def test_a_crashing_registration_hook_skips_only_that_plugin(site):
    write_distribution(site, "crashy", """
        from agent_engine_core import hookimpl

        @hookimpl
        def register_llm_providers(register):
            register("half", object)
            raise ValueError("second registration failed")
    """)
    engine = Engine.from_dict({"workflow": WORKFLOW})
    assert "half" not in engine.components.llm_providers  # the half-done registration is rolled back
    assert any("second registration failed" in f.reason for f in engine.plugins.failed)


def test_entry_points_load_in_sorted_distribution_order(site):
    for name in ("zeta", "alpha", "mid"):
        write_distribution(site, name, """
            from agent_engine_core import hookimpl

            @hookimpl
            def on_event(event):
                pass
        """)
    engine = Engine.from_dict({"workflow": WORKFLOW})
    mine = {"agent-engine-alpha", "agent-engine-mid", "agent-engine-zeta"}
    names = [p.distribution for p in engine.plugins.loaded if p.distribution in mine]
    assert names == ["agent-engine-alpha", "agent-engine-mid", "agent-engine-zeta"]


def test_disable_autoload_and_allow_list(site, monkeypatch):
    for name in ("alpha", "beta"):
        write_distribution(site, name, "x = 1\n")
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert [p.source for p in Engine.from_dict({"workflow": WORKFLOW}).plugins.loaded] == ["core"]
    monkeypatch.delenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("AGENT_ENGINE_LOAD_PLUGINS", "beta")
    loaded = [p.distribution for p in Engine.from_dict({"workflow": WORKFLOW}).plugins.loaded]
    assert loaded == ["agent-engine-core", "agent-engine-beta"]


def test_two_distributions_registering_one_name_is_an_error_naming_both(site):
    for name in ("one", "two"):
        write_distribution(site, name, """
            from agent_engine_core import hookimpl

            @hookimpl
            def register_llm_providers(register):
                register("same", object)
        """)
    with pytest.raises(PluginError) as caught:
        Engine.from_dict({"workflow": WORKFLOW})
    assert "agent-engine-one" in str(caught.value)
    assert "agent-engine-two" in str(caught.value)


def test_a_plugin_cannot_take_a_built_in_name(site):
    write_distribution(site, "impostor", """
        from agent_engine_core import hookimpl

        @hookimpl
        def register_llm_providers(register):
            register("scripted", object)
    """)
    with pytest.raises(PluginError, match=r"agent-engine-core.*agent-engine-impostor"):
        Engine.from_dict({"workflow": WORKFLOW})


def test_plugins_yaml_names_an_unknown_plugin_with_its_location(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")
    (tmp_path / "workflow.yaml").write_text(json.dumps(WORKFLOW))
    (tmp_path / "plugins.yaml").write_text("plugins:\n  - id: otel\n    config: {}\n")
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(tmp_path)
    issue = next(i for i in caught.value.issues if i.code == "plugins.invalid")
    assert issue.file.endswith("plugins.yaml")
    assert issue.line == 2
    assert issue.hint == ("'otel' is provided by agent-engine-otel: pip install -e agent_engine_plugins/otel "
                          "(from the root of the agent-engine repository)")


def test_plugins_yaml_disables_an_auto_loaded_observer(site, tmp_path):
    write_distribution(site, "watcher", """
        from agent_engine_core import hookimpl

        SEEN = []

        @hookimpl
        def on_event(event):
            SEEN.append(event.type)
    """)
    (tmp_path / "workflow.yaml").write_text(json.dumps(WORKFLOW))
    Engine.from_config_dir(tmp_path).run(1)
    import agent_engine_watcher

    assert "task_finished" in agent_engine_watcher.SEEN
    agent_engine_watcher.SEEN.clear()
    (tmp_path / "plugins.yaml").write_text("plugins:\n  - {id: watcher, enabled: false}\n")
    Engine.from_config_dir(tmp_path).run(1)
    assert agent_engine_watcher.SEEN == []


def test_explicit_plugins_are_registered_for_that_engine_only():
    class Counter:
        def __init__(self):
            self.count = 0

        @hookimpl
        def on_node_finished(self, event):
            self.count += 1

    counter = Counter()
    Engine.from_dict({"workflow": WORKFLOW}, plugins=[counter]).run(1)
    Engine.from_dict({"workflow": WORKFLOW}).run(1)
    assert counter.count == 2


def test_cli_plugins_runs_in_process_too():
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0
    listing = json.loads(result.output)
    core = listing["loaded"][0]
    assert core["distribution"] == "agent-engine-core"
    assert core["components"] == ["executor:local", "llm_provider:scripted", "llm_provider:replay",
                                  "memory_backend:memory", "run_journal:memory", "run_store:memory",
                                  "telemetry_sink:log", "token_counter:estimate"]


def test_install_hints_name_only_distributions_of_this_repository_with_their_folders():
    repository = Path(__file__).resolve().parent.parent
    for distribution, folder in REPOSITORY_DISTRIBUTIONS.items():
        with (repository / folder / "pyproject.toml").open("rb") as file:
            assert tomllib.load(file)["project"]["name"] == distribution
    assert set(KNOWN_COMPONENTS.values()) <= set(REPOSITORY_DISTRIBUTIONS)
    hint = distribution_hint("memory_backend", "file", ["memory"])
    assert hint == ("installed memory backends: memory; 'file' is provided by agent-engine-memory-jsonl: "
                    "pip install -e agent_engine_plugins/memory-jsonl (from the root of the agent-engine repository)")
    assert distribution_hint("memory_backend", "sqlit", ["memory"]).startswith(
        "installed memory backends: memory; did you mean 'sqlite'? 'sqlite' is provided by agent-engine-memory-sqlite")
    assert distribution_hint("executor", "dask", ["local"]) == (
        "installed executors: local; 'dask' is provided by agent-engine-dask: pip install -e agent_engine_plugins/dask "
        "(from the root of the agent-engine repository)")
    assert "pip install" not in distribution_hint("executor", "ray", ["local"])


def test_every_component_the_repositorys_distributions_register_has_an_install_hint():
    engine = Engine.from_dict({"workflow": {"version": "1.0", "nodes": [{"id": "s", "role": "start"},
                                                                        {"id": "z", "role": "exit"}],
                                            "edges": [{"from": "s", "to": "z"}]}})
    try:
        registered = {(category, name): registration.distribution
                      for category in ("llm_provider", "memory_backend", "telemetry_sink", "tool", "executor")
                      for name, registration in engine.components.of(category).items()}
    finally:
        engine.close()
    from_repository = {key: dist for key, dist in registered.items() if dist in REPOSITORY_DISTRIBUTIONS}
    assert from_repository.items() <= KNOWN_COMPONENTS.items()
