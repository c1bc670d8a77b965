"""Every manifest example of the build plan loads as written, or is refused with the work that builds it.

The fixtures in ``tests/projects/build_plan`` are the examples verbatim (see its README); each test copies the
``base`` project and one example, under its manifest name, into a config dir.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent_engine_core import Engine, ManifestError

FIXTURES = Path(__file__).parent / "projects" / "build_plan"
KEY = "sk-ant-build-plan-0123456789"


def project(tmp_path: Path, **examples: str) -> Path:
    """``base`` plus each ``manifest stem -> fixture file name`` of ``examples``, as a config dir."""
    root = Path(shutil.copytree(FIXTURES / "base", tmp_path / "project"))
    for stem, fixture in examples.items():
        shutil.copyfile(FIXTURES / fixture, root / f"{stem}.yaml")
    return root


def refusal(root: Path) -> list:
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(root)
    return caught.value.issues


def test_memory_yaml_as_the_build_plan_writes_it_keeps_its_stores_where_the_plan_says(tmp_path):
    pytest.importorskip("agent_engine_memory_jsonl", reason="the file backend is agent-engine-memory-jsonl's")
    pytest.importorskip("agent_engine_memory_sqlite", reason="the sqlite backend is agent-engine-memory-sqlite's")
    root = project(tmp_path, memory="memory.yaml")
    engine = Engine.from_config_dir(root)
    try:
        engine.memory.project.append({"style": "terse"})
        result = engine.run({"request": "write a haiku"})
    finally:
        engine.close()
    assert result.status == "success"
    folder = root / ".agent_engine" / "memory"
    assert (folder / "task_store.jsonl").is_file()  # "file" is the JSON Lines backend
    assert (folder / "memory.db").is_file()
    lines = (folder / "task_store.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(result.trace.records) and json.loads(lines[-1])["store"] == "task"
    reopened = Engine.from_config_dir(root)
    try:
        assert [i.payload for i in reopened.memory.project.query()] == [{"style": "terse"}]
    finally:
        reopened.close()


def bound_to_anthropic(root: Path) -> None:
    """The base agent moved to the plan's provider, so that the credential is read (only bound ones are)."""
    agents = root / "agents.yaml"
    agents.write_text(agents.read_text(encoding="utf-8").replace(
        "llm: scripted/editor", 'llm: "anthropic/default"\n    credential: anthropic_sonnet'), encoding="utf-8")


def test_provider_credentials_yaml_with_source_env_loads_as_written(tmp_path, monkeypatch):
    pytest.importorskip("agent_engine_anthropic", reason="the plan's credential is for agent-engine-anthropic")
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    root = project(tmp_path, provider_credentials="provider_credentials_env.yaml")
    bound_to_anthropic(root)
    engine = Engine.from_config_dir(root)
    try:
        agent = engine.metadata["agents"]["editor"]
    finally:
        engine.close()
    assert (agent["provider"], agent["model"]) == ("anthropic", "claude-sonnet-4")  # config.default_model


def test_provider_credentials_yaml_with_source_file_loads_as_written(tmp_path):
    pytest.importorskip("agent_engine_anthropic", reason="the plan's credential is for agent-engine-anthropic")
    root = project(tmp_path, provider_credentials="provider_credentials_file.yaml")
    bound_to_anthropic(root)
    key_file = tmp_path / "path" / "to" / "key.txt"  # the plan's /path/to/key.txt, moved under tmp_path
    key_file.parent.mkdir(parents=True)
    key_file.write_text(f"api_key: {KEY}\n", encoding="utf-8")
    key_file.chmod(0o600)
    manifest = root / "provider_credentials.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("/path/to/key.txt", str(key_file)),
                        encoding="utf-8")
    engine = Engine.from_config_dir(root)
    try:
        assert engine.metadata["agents"]["editor"]["model"] == "claude-sonnet-4"
    finally:
        engine.close()


@pytest.mark.parametrize("fixture", ["provider_credentials_env.yaml", "provider_credentials_file.yaml"])
def test_provider_credentials_yaml_is_valid_whether_or_not_an_agent_uses_it(tmp_path, fixture):
    root = project(tmp_path, provider_credentials=fixture)
    engine = Engine.from_config_dir(root)  # no agent is bound to it: validated, its secret never read
    try:
        (spec,) = engine.project.credentials.provider_credentials
    finally:
        engine.close()
    assert (spec.id, spec.provider, spec.config.default_model) == ("anthropic_sonnet", "anthropic", "claude-sonnet-4")


def test_the_old_credentials_key_is_refused_with_the_key_to_write_instead(tmp_path):
    root = project(tmp_path, provider_credentials="provider_credentials_env.yaml")
    manifest = root / "provider_credentials.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("provider_credentials:", "credentials:"),
                        encoding="utf-8")
    (issue,) = refusal(root)
    assert (issue.file, issue.line, issue.column, issue.code) == (str(manifest), 1, 1, "manifest.extra_field")
    assert issue.message == "'credentials:' is the old name of the top-level key 'provider_credentials:'"
    assert issue.hint == "rename 'credentials:' to 'provider_credentials:'"


def test_scheduler_yaml_as_the_build_plan_writes_it_loads(tmp_path):
    root = project(tmp_path, scheduler="scheduler.yaml")
    engine = Engine.from_config_dir(root)
    try:
        scheduler = engine.project.scheduler.scheduler
        result = engine.run({"request": "write a haiku"})
    finally:
        engine.close()
    assert (scheduler.enabled, scheduler.max_concurrency, scheduler.queue_policy, scheduler.max_queue_size) == (
        True, 1, "fifo", 100)
    assert result.status == "success"


def test_the_plans_reserved_rate_limit_is_refused_as_not_built_yet_where_it_is_written(tmp_path):
    root = project(tmp_path, scheduler="scheduler_rate_limit.yaml")
    (issue,) = refusal(root)
    assert (issue.file, issue.line, issue.code) == (str(root / "scheduler.yaml"), 6, "manifest.unsupported")
    assert "rate limiting is not built yet" in issue.message and "issue 14" in issue.message


def test_a_typo_inside_the_reserved_rate_limit_is_a_field_error_with_a_suggestion(tmp_path):
    root = project(tmp_path, scheduler="scheduler_rate_limit.yaml")
    manifest = root / "scheduler.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("burst:", "burts:"), encoding="utf-8")
    codes = {(i.code, i.line, i.hint) for i in refusal(root)}
    assert ("manifest.extra_field", 8, "did you mean 'burst'?") in codes


def test_the_cli_profiles_example_loads_as_written_in_the_plans_spelling(tmp_path):
    root = project(tmp_path, cli_profiles="cli_profiles.yaml")
    with Engine.from_config_dir(root) as engine:
        (profile,) = engine.project.cli_profiles.cli_profiles
    assert (profile.id, profile.prompt, profile.input_field, profile.attach_field) == (
        "mini_editor", "editor> ", "request", "attachment")
    # written config_dir and show, the plan's spellings of default_config_dir and render
    assert (profile.default_config_dir, profile.render) == ("examples/mini_editor/config", "summary")


def test_policy_yaml_as_spec_writes_it_loads_and_denies_what_it_says(tmp_path):
    pytest.importorskip("agent_engine_tools_std", reason="run_command is agent-engine-tools-std's proc.run_command")
    root = project(tmp_path, policy="policy.yaml", tools="tools.yaml")
    engine = Engine.from_config_dir(root)
    try:
        result = engine.run({"request": "write a haiku"})
    finally:
        engine.close()
    assert result.status == "failure"
    denied = result.trace.records[1]
    assert (denied.node_id, denied.error.kind) == ("draft_document", "policy")
    assert "no_shell" in denied.error.message


SUMMARY = {"type": "object", "required": ["title", "body"],
           "properties": {"title": {"type": "string"}, "body": {"type": "string"}}}


def test_the_plans_evaluation_suites_load_as_written_and_their_case_passes(tmp_path):
    root = project(tmp_path, evaluations="evaluations.yaml")
    (root / "schemas").mkdir()
    (root / "schemas" / "summary.json").write_text(json.dumps(SUMMARY), encoding="utf-8")
    with Engine.from_config_dir(root) as engine:
        (verdict,) = engine.evaluate()
    assert (verdict.suite, verdict.case_id, verdict.passed) == ("mini_editor", "create_flow", True)
    assert [a.type for a in verdict.assertions] == ["status", "equals", "contains", "schema_valid"]


def test_a_schema_the_plans_case_names_must_exist_where_the_case_names_it(tmp_path):
    root = project(tmp_path, evaluations="evaluations.yaml")
    (issue,) = refusal(root)
    assert (issue.file, issue.line, issue.code) == (str(root / "evaluations.yaml"), 12,
                                                    "evaluations.unknown_reference")
    assert issue.message == "case 'create_flow' names schema 'summary', which the project does not have"
