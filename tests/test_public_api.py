"""The public API is exactly what ``agent_engine_core.__all__`` lists; changing it must be deliberate."""

from __future__ import annotations

import json
import re

import pytest

import agent_engine_core
from agent_engine_core.lazy import lazy_attribute

PUBLIC_API = [
    "AgentEngineError",
    "Engine",
    "Event",
    "InvalidInput",
    "LlmReply",
    "LlmRequest",
    "ManifestError",
    "ManifestIssue",
    "NodeContext",
    "NodeFailure",
    "PluginError",
    "PolicyDenied",
    "ProviderError",
    "QueueFullError",
    "ReplayMismatch",
    "StageError",
    "StageRecord",
    "Status",
    "TaskFailed",
    "TaskResult",
    "ToolError",
    "Trace",
    "__version__",
    "hookimpl",
]


def test_all_is_pinned():
    assert sorted(agent_engine_core.__all__) == PUBLIC_API


def test_all_is_sorted_and_without_duplicates():
    assert agent_engine_core.__all__ == sorted(set(agent_engine_core.__all__))


def test_every_listed_name_resolves():
    for name in agent_engine_core.__all__:
        assert getattr(agent_engine_core, name) is not None, name


def test_star_import_gives_exactly_the_public_api():
    namespace: dict[str, object] = {}
    exec("from agent_engine_core import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == PUBLIC_API


def test_hookimpl_is_the_agent_engine_projects_marker():
    import pluggy

    assert isinstance(agent_engine_core.hookimpl, pluggy.HookimplMarker)
    assert agent_engine_core.hookimpl.project_name == "agent_engine"


EXCEPTIONS = ["InvalidInput", "ManifestError", "PluginError", "PolicyDenied", "ProviderError", "QueueFullError",
              "ReplayMismatch", "TaskFailed", "ToolError"]


def test_every_public_exception_derives_from_agent_engine_error():
    for name in EXCEPTIONS:
        assert issubclass(getattr(agent_engine_core, name), agent_engine_core.AgentEngineError), name
    exceptions = {n for n in PUBLIC_API if isinstance(getattr(agent_engine_core, n), type)
                  and issubclass(getattr(agent_engine_core, n), BaseException)}
    assert exceptions == {*EXCEPTIONS, "AgentEngineError", "NodeFailure"}


def test_version_is_a_version_string():
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", agent_engine_core.__version__)


def test_lazy_attribute_imports_listed_names_on_use_and_refuses_others():


    table = {"dumps": "json"}
    assert lazy_attribute("pkg", table, "dumps") is json.dumps
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'loads'"):
        lazy_attribute("pkg", table, "loads")


def test_ids_exports_only_the_id_helpers_the_engine_uses():
    from agent_engine_core import ids

    assert ids.__all__ == ["RunId", "child_task_id", "new_run_id"]
    assert ids.child_task_id("run-1/root", "split", 2) == "run-1/root/split#2"
