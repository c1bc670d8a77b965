"""The one way the engine and its plugins log, and the one way an application sets logging up.

Code that logs (the core's modules, plugin distributions) takes a logger at module scope and never configures
anything::

    from agent_engine_core.lazy import get_logger

    log = get_logger(__name__)

It is structlog's logger of that name, made when the first line is logged: structlog (~50 ms to import) stays
off the import path of every engine and of plugin discovery, and lines follow whatever configuration the
application has at the time they are written. Applications configure: in this repository the CLI, and the
helper processes the memory contract kit starts, both through ``configure``.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Logger", "configure", "get_logger"]


class Logger:
    """A structlog logger made on first use: ``log.warning("plugin skipped", plugin=name)``."""

    __slots__ = ("_context", "_logger", "_name")

    def __init__(self, name: str, context: dict[str, Any]) -> None:
        self._name = name
        self._context = context
        self._logger: Any = None

    def __getattr__(self, method: str) -> Any:
        if method.startswith("__"):  # Python's protocol probes (copy, pickle) are not log methods
            raise AttributeError(method)
        if self._logger is None:
            import structlog  # noqa: PLC0415 - paid by the first line logged, not by the import

            self._logger = structlog.get_logger(self._name, **self._context)
        return getattr(self._logger, method)


def get_logger(name: str, **context: Any) -> Logger:
    """The logger named ``name`` (a module's ``__name__``), with ``context`` bound to every line it writes."""
    return Logger(name, context)


def configure(level: int, *, json: bool = False) -> None:
    """Log lines at ``level`` and above on stderr: console text (coloured on a terminal), or JSON lines.

    Standard output is left to results, so ``--json`` output and a helper process's answers stay parseable.
    """
    import structlog  # noqa: PLC0415 - only applications configure

    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )


def _stderr_logger(*args: Any) -> Any:
    """A logger on the ``sys.stderr`` of the moment: while the CLI's progress spinner shows, that prints above it."""
    import structlog  # noqa: PLC0415 - configured already, so imported

    return structlog.PrintLogger(sys.stderr)
