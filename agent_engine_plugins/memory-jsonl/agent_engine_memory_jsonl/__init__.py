"""agent-engine-memory-jsonl: memory stores and artifacts in append-only JSON Lines files, fsynced per write.

Choose it per store in memory.yaml (``project_store: {backend: jsonl}``). The files live in
``<config dir>/.agent_engine/memory/`` (``task_store.jsonl``, ``project_store.jsonl``, ``global_store.jsonl``,
``artifacts.jsonl``); see README.md for the durability guarantees and the one-process rule.
"""

from agent_engine_memory_jsonl._backend import DEFAULT_PATH, JsonlMemoryBackend, memory_folder
from agent_engine_memory_jsonl._file import TornLineWarning
from agent_engine_memory_jsonl._version import __version__
from agent_engine_memory_jsonl.plugin import BACKEND_NAME, build_backend

__all__ = [
    "BACKEND_NAME",
    "DEFAULT_PATH",
    "JsonlMemoryBackend",
    "TornLineWarning",
    "__version__",
    "build_backend",
    "memory_folder",
]
