"""Public and private: what plugin authors and embedders may import from the core, pinned.

A core module is public exactly when no component of its dotted path starts with an underscore
(docs/PLUGINS.md "Public and private"). Every public module says what it offers in ``__all__``; the lists are
written out here, so a change to the public surface is a change to this file, made on purpose. Distributions
under ``adapters/`` and ``agent_engine_plugins/`` -- code, tests and benchmarks -- import public modules and
public names only, as third parties do.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import agent_engine_core

REPOSITORY = Path(__file__).resolve().parents[1]
DISTRIBUTION_FOLDERS = ("adapters", "agent_engine_plugins")

PUBLIC_ALL = {
    "agent_engine_core": [
        "AgentEngineError", "Engine", "Event", "InvalidInput", "LlmReply", "LlmRequest", "ManifestError",
        "ManifestIssue", "NodeContext", "NodeFailure", "PluginError", "PolicyDenied", "ProviderError",
        "QueueFullError", "ReplayMismatch", "StageError", "StageRecord", "Status", "TaskFailed", "TaskResult",
        "ToolError", "Trace", "__version__", "hookimpl",
    ],
    "agent_engine_core.cli": ["main", "mermaid"],
    "agent_engine_core.codec": ["JSONValueError", "compose", "dumps", "embed", "loads", "plain"],
    "agent_engine_core.engine": ["Engine"],
    "agent_engine_core.errors": [
        "AgentEngineError", "ApprovalRefused", "InvalidInput", "JSONValueError", "ManifestError", "ManifestIssue",
        "MemoryDenied", "NodeFailure", "PluginError", "PolicyDenied", "ProviderError", "QueueFullError",
        "ReplayMismatch", "ResumeRefused", "TaskFailed", "ToolError", "ToolMisuse",
    ],
    "agent_engine_core.evaluations": [
        "AssertionResult", "CaseResult", "check_case", "evaluate", "junit_xml", "resolve_pointer",
    ],
    "agent_engine_core.events": [
        "AgentCallEvent", "ChildCreated", "ContextAssembled", "CredentialLoaded", "EVENT_TYPES", "Event",
        "MergeFired", "NodeFinished", "NodeStarted", "PolicyDenied", "QueueFull", "RoutingDecision",
        "TaskDequeued", "TaskFinished", "TaskQueued", "TaskStarted", "ToolInvoked",
    ],
    "agent_engine_core.executors": [
        "ExecutorSetup", "LOCAL", "RemoteTask", "TaskExecutor", "TaskExecutorFactory", "TaskOutcome",
    ],
    "agent_engine_core.handler": [
        "MemoryAccess", "MemoryDenied", "MemoryLayer", "NodeContext", "NodeFailure", "ToolBox", "ToolMisuse",
    ],
    "agent_engine_core.hookspecs": ["OBSERVER_HOOKS", "PROJECT", "REGISTRATION_HOOKS", "hookimpl", "hookspec"],
    "agent_engine_core.ids": ["RunId", "child_task_id", "new_run_id"],
    "agent_engine_core.lazy": ["get_logger", "lazy_attribute"],
    "agent_engine_core.inspector": ["Inspector", "RunView", "StageDifference", "open_inspector", "run_id_of"],
    "agent_engine_core.journal": [
        "InMemoryRunJournal", "JOURNAL_FORMAT", "JournalEntry", "JournalRun", "JournalSummary", "RunJournal",
        "RunJournalFactory",
    ],
    "agent_engine_core.llm": [
        "AgentConfig", "Credential", "ENGINE_CONFIG_KEYS", "LlmProvider", "LlmReply", "LlmRequest",
        "OFFLINE_CONFIG_KEYS", "ProviderFactory", "ProviderSetup", "ToolCall",
    ],
    "agent_engine_core.manifests": [
        "KNOWN_MANIFESTS", "MANIFEST_MODELS", "Project", "load_config_dir", "load_manifests",
    ],
    "agent_engine_core.manifests.evaluations": [
        "ASSERTION_TYPES", "Assertion", "ContainsAssertion", "DecisionAssertion", "EqualsAssertion",
        "EvaluationCase", "EvaluationSuite", "EvaluationsManifest", "MaxAgentCallsAssertion",
        "MaxTokensAssertion", "PathTakenAssertion", "RegexAssertion", "SchemaValidAssertion", "StatusAssertion",
        "ToolCalledAssertion",
    ],
    "agent_engine_core.manifests.loader": ["KNOWN_MANIFESTS", "Project", "load_config_dir", "load_manifests"],
    "agent_engine_core.manifests.models": [
        "AgentSpec", "AgentsManifest", "AuthSpec", "CliProfile", "CliProfilesManifest", "ContextProfile",
        "ContextSource", "CredentialSpec", "CredentialsConfig", "EdgeSpec", "MANIFEST_MODELS", "MemoryManifest",
        "MemorySpec", "MergeOptions",
        "NodeSpec", "PluginEntry", "PluginsManifest", "Policy", "PolicyManifest", "PolicyRule",
        "ProviderCredentialsManifest", "RateLimitSpec", "Role", "RunsSpec", "SchedulerManifest", "SchedulerSpec",
        "StoreSpec", "ToolSpec", "ToolsManifest", "WorkflowManifest",
    ],
    "agent_engine_core.memory": [
        "Artifact", "Artifacts", "InMemoryBackend", "Memory", "MemoryBackend", "MemoryFactory", "MemoryItem",
        "MemorySetup", "MemoryStore", "STORES", "StoreName", "check_limit", "file_store_path", "write_time",
    ],
    "agent_engine_core.providers": [],
    "agent_engine_core.providers.scripted": ["ScriptedProvider"],
    "agent_engine_core.records": [
        "AgentCall", "ErrorKind", "Lineage", "LineageStep", "StageError", "StageRecord", "Status", "TaskResult",
        "TaskSummary", "Trace",
    ],
    "agent_engine_core.replay": [
        "Prefix", "RecordedContext", "RecordedTools", "ReplayProvider", "check_replay", "load_recording",
        "prefix_before", "replay_provider",
    ],
    "agent_engine_core.runs": [
        "InMemoryRunStore", "RUN_FORMAT", "RunStore", "RunStoreFactory", "RunStoreSetup", "RunSummary", "StoredRun",
        "run_store_path", "select_runs",
    ],
    "agent_engine_core.secrets": ["MIN_FRAGMENT", "REDACTED", "Secret", "forms_of", "redact"],
    "agent_engine_core.testing": [
        "CANARY_ENV", "EventRecorder", "FunctionTool", "LockedDir", "SecretLedger", "ToolPack",
        "assemble_context", "assert_same_trace", "assert_trace_nodes", "check_closed_backend_refuses_work",
        "check_context_retrieval", "check_engines_share_memory", "check_foreign_items_are_refused",
        "check_fork_refused", "check_handles_share_the_store", "check_memory_backend",
        "check_memory_yaml_refused", "check_persistence_across_processes", "check_retention_property",
        "check_retention_survives_kills", "check_run_journal", "check_run_store", "check_run_store_property",
        "check_runs_survive_kills",
        "check_threads_lose_nothing", "check_writes_survive_kills",
        "closed_after", "fake_entry_point_group", "find_secret", "in_another_process",
    ],
    "agent_engine_core.testing.plugin": [
        "engine_from_dir", "event_recorder", "fake_entry_points", "locked_dir", "make_engine", "secret_ledger",
    ],
    "agent_engine_core.worker": ["run_task"],
    "agent_engine_core.tools": [
        "BoundTool", "Tool", "ToolConfig", "ToolFactory", "ToolInvocation", "ToolResult", "ToolScope", "ToolSet",
        "ToolSetup", "ToolStatus", "current_scope",
    ],
}


def is_private(dotted: str) -> bool:
    """A module path (or module path plus name) is private when any component starts with an underscore."""
    return any(part.startswith("_") and not (part.startswith("__") and part.endswith("__"))
               for part in dotted.split("."))


def core_modules() -> list[str]:
    walked = pkgutil.walk_packages(agent_engine_core.__path__, "agent_engine_core.")
    return sorted(["agent_engine_core", *(info.name for info in walked)])


def public_modules() -> list[str]:
    return [name for name in core_modules() if not is_private(name)]


def test_the_public_modules_are_exactly_these():
    assert public_modules() == sorted(PUBLIC_ALL)


@pytest.mark.parametrize("name", sorted(PUBLIC_ALL))
def test_each_public_module_offers_exactly_its_pinned_names(name):
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} defines no __all__"
    offered = list(module.__all__)
    assert len(offered) == len(set(offered)), f"{name}.__all__ lists a name twice"
    assert sorted(offered) == PUBLIC_ALL[name]
    missing = [attribute for attribute in offered if not hasattr(module, attribute)]
    assert missing == [], f"{name}.__all__ names what the module does not define: {missing}"
    assert [attribute for attribute in offered if is_private(attribute)] == []


# --- distributions import the public core only -------------------------------------------------------------


def private_core_imports(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for each import of a private core module or name in ``source``.

    Covers ``import a.b``, ``from a.b import c`` (``c`` may be a module or a name) and
    ``importlib.import_module("a.b")`` with a literal argument.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        imported: list[str] = []
        if isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported = [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"] or [node.module]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            imported = [node.args[0].value]
        found += [(node.lineno, name) for name in imported
                  if name.split(".")[0] == "agent_engine_core" and is_private(name)]
    return found


@pytest.mark.parametrize(("source", "expected"), [
    ("import agent_engine_core._build.context", [(1, "agent_engine_core._build.context")]),
    ("from agent_engine_core._run import stage", [(1, "agent_engine_core._run.stage")]),
    ("from agent_engine_core.cli import _Progress", [(1, "agent_engine_core.cli._Progress")]),
    ("from agent_engine_core.manifests import _yaml", [(1, "agent_engine_core.manifests._yaml")]),
    ("import importlib\nimportlib.import_module('agent_engine_core._schemas')", [(2, "agent_engine_core._schemas")]),
    ("from agent_engine_core import __version__, Engine\nfrom agent_engine_core.codec import dumps", []),
    ("from agent_engine_core.testing import check_memory_backend\nimport agent_engine_core.memory", []),
    ("from . import _backend\nfrom agent_engine_sqlite._schema import x\nimport _private", []),
])
def test_the_scan_finds_every_form_of_private_import(source, expected):
    assert private_core_imports(source) == expected


def distribution_files() -> list[Path]:
    skipped = {".venv", "build", "dist", "__pycache__", ".tox"}
    return sorted(path for folder in DISTRIBUTION_FOLDERS for path in (REPOSITORY / folder).rglob("*.py")
                  if not skipped.intersection(path.relative_to(REPOSITORY).parts)
                  and not any(part.endswith(".egg-info") for part in path.parts))


def test_distributions_import_only_the_public_core():
    files = distribution_files()
    assert len(files) > 50, "the scan found the distributions' files"
    offences = [f"{path.relative_to(REPOSITORY)}:{line}: {name}" for path in files
                for line, name in private_core_imports(path.read_text(encoding="utf-8"))]
    assert offences == []
