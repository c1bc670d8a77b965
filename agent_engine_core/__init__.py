"""Agent Engine core: deterministic, observable LLM-agent workflows declared as a YAML DAG.

The public API is re-exported here, one name per line; everything else is private to the package.
"""

from agent_engine_core._version import __version__
from agent_engine_core.engine import Engine
from agent_engine_core.errors import (
    AgentEngineError,
    InvalidInput,
    ManifestError,
    ManifestIssue,
    PluginError,
    PolicyDenied,
    ProviderError,
    QueueFullError,
    ReplayMismatch,
    TaskFailed,
    ToolError,
)
from agent_engine_core.events import Event
from agent_engine_core.handler import NodeContext, NodeFailure
from agent_engine_core.hookspecs import hookimpl
from agent_engine_core.llm import LlmReply, LlmRequest
from agent_engine_core.records import StageError, StageRecord, Status, TaskResult, Trace

__all__ = [
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
