"""Prometheus metrics for Agent Engine: timers, counters and gauges per node, tool, agent call and task.

Install the distribution and switch the sink on in plugins.yaml (``plugins: [{id: metrics}]``); metrics.yaml
in the project dir chooses what is collected. See README.md for the metric names and the exposure options.
"""

from agent_engine_metrics._config import DEFAULT_BUCKETS, FAMILIES, Settings, resolve_settings
from agent_engine_metrics._sink import MetricsSink
from agent_engine_metrics._version import __version__

__all__ = [
    "DEFAULT_BUCKETS",
    "FAMILIES",
    "MetricsSink",
    "Settings",
    "__version__",
    "resolve_settings",
]
