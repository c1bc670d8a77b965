"""Prometheus metrics for Agent Engine: timers, counters and gauges per node, tool, agent call and task.

Install the distribution and switch the sink on in plugins.yaml (``plugins: [{id: metrics}]``); metrics.yaml
in the project dir chooses what is collected. See README.md for the metric names and the exposure options.
"""

from __future__ import annotations

from typing import Any

from agent_engine_core.lazy import lazy_attribute

from agent_engine_metrics._version import __version__

__all__ = [
    "DEFAULT_BUCKETS",
    "FAMILIES",
    "MetricsSink",
    "Settings",
    "__version__",
    "resolve_settings",
]

_LAZY = {
    "DEFAULT_BUCKETS": "agent_engine_metrics._config",
    "FAMILIES": "agent_engine_metrics._config",
    "Settings": "agent_engine_metrics._config",
    "resolve_settings": "agent_engine_metrics._config",
    "MetricsSink": "agent_engine_metrics._sink",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first access, so that plugin discovery imports no prometheus_client."""
    return lazy_attribute(__name__, _LAZY, name)
