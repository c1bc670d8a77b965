"""OpenTelemetry for Agent Engine: every run as one trace following the GenAI semantic conventions.

Operators switch the sink on in plugins.yaml (``plugins: [{id: otel, config: {endpoint: ...}}]``); embedders
who configure OpenTelemetry themselves leave ``endpoint`` out, or hand providers in with ``use_providers``.
"""

from agent_engine_otel._config import force_flush, shutdown, use_providers
from agent_engine_otel._sink import OtelSink
from agent_engine_otel._version import __version__

__all__ = [
    "OtelSink",
    "__version__",
    "force_flush",
    "shutdown",
    "use_providers",
]
