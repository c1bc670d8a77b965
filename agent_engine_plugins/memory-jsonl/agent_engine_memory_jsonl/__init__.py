"""agent-engine-memory-jsonl: memory stores and artifacts in append-only JSON Lines files, fsynced per write.

Choose it per store in memory.yaml (``project_store: {backend: jsonl}``). The files live in
``<config dir>/.agent_engine/memory/`` (``task_store.jsonl``, ``project_store.jsonl``, ``global_store.jsonl``,
``artifacts.jsonl``); see README.md for the durability guarantees and the one-process rule. memory.yaml's
``runs: {backend: jsonl}`` keeps every finished run as a line of ``<config dir>/.agent_engine/runs.jsonl``.
"""

from agent_engine_memory_jsonl._backend import DEFAULT_PATH, JsonlMemoryBackend, memory_folder
from agent_engine_memory_jsonl._file import TornLineWarning
from agent_engine_memory_jsonl._runs import DEFAULT_MAX_RUNS, DEFAULT_RUNS_PATH, JsonlRunStore, runs_file_path
from agent_engine_memory_jsonl._version import __version__
from agent_engine_memory_jsonl.plugin import BACKEND_NAME, build_backend, build_run_store

__all__ = [
    "BACKEND_NAME",
    "DEFAULT_MAX_RUNS",
    "DEFAULT_PATH",
    "DEFAULT_RUNS_PATH",
    "JsonlMemoryBackend",
    "JsonlRunStore",
    "TornLineWarning",
    "__version__",
    "build_backend",
    "build_run_store",
    "memory_folder",
    "runs_file_path",
]
