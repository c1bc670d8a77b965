"""Deliver events to observers, each implementation called by the core itself and isolated from the run.

pluggy alone gives no isolation (one raising implementation stops the loop for the rest), so the engine takes
each implementation from the plugin manager and calls it on its own: an exception is caught, logged with the
plugin name and counted; after ``MAX_FAILURES`` in one run the plugin is switched off for the rest of that run.
A plugin with ``dispatch: background`` gets its events through a bounded queue drained by its own thread:
delivery never blocks the run, and what does not fit is counted as overflow.

Everything an observer raises is its own failure, ``BaseException`` subclasses included (``SystemExit``,
``GeneratorExit``, a ``KeyboardInterrupt`` it raises itself): only a real interrupt of the host process — the
``KeyboardInterrupt`` that Python's SIGINT handler raises while an observer happens to run — goes on up, so
Ctrl-C stops a run wherever it lands (``interrupted_by_signal``).
"""

from __future__ import annotations

import dis
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import pluggy

from agent_engine_core._logging import get_logger
from agent_engine_core.events import Event
from agent_engine_core.hookspecs import OBSERVER_HOOKS

__all__ = ["MAX_FAILURES", "Dispatch", "ObserverRun", "Observers"]

log = get_logger(__name__)

MAX_FAILURES = 3
"""Failures in one run after which an observer is switched off for the rest of that run."""



_RAISE = dis.opmap["RAISE_VARARGS"]


def interrupted_by_signal(exc: BaseException) -> bool:
    """True for a ``KeyboardInterrupt`` delivered by a signal rather than raised by a ``raise`` statement.

    Python's SIGINT handler raises it at whatever instruction was running; a plugin's own ``raise`` leaves the
    innermost frame at a ``RAISE_VARARGS``.
    """
    if not isinstance(exc, KeyboardInterrupt):
        return False
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code.co_code
    return not (0 <= tb.tb_lasti < len(code) and code[tb.tb_lasti] == _RAISE)


@dataclass(frozen=True, slots=True)
class Dispatch:
    """How one plugin's events are delivered (from plugins.yaml)."""

    background: bool = False
    queue_size: int = 1000


class _Background:
    """A bounded queue and the daemon thread that drains it into one plugin's hooks."""

    def __init__(self, plugin: str, size: int) -> None:
        self.plugin = plugin
        self.queue: queue.Queue[tuple[Callable[[Event], Any], Event] | None] = queue.Queue(maxsize=size)
        self.overflow = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._drain, name=f"agent-engine-observer-{plugin}", daemon=True)
        self._thread.start()

    def offer(self, function: Callable[[Event], Any], event: Event) -> None:
        try:
            self.queue.put_nowait((function, event))
        except queue.Full:
            self.overflow += 1

    def _drain(self) -> None:
        while (item := self.queue.get()) is not None:
            function, event = item
            try:
                function(event)
            except BaseException as exc:  # no signal reaches this thread: all is the observer's
                self.failures += 1
                log.warning("observer failed", plugin=self.plugin, event_type=event.type, error=repr(exc))

    def close(self, timeout: float) -> None:
        try:
            self.queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)


class _Target(NamedTuple):
    plugin: str
    function: Callable[[Event], Any]
    background: _Background | None


class Observers:
    """The observer implementations of one engine, grouped by the event classes they receive."""

    def __init__(
        self, manager: pluggy.PluginManager, order: Iterable[str], dispatch: Mapping[str, Dispatch],
        disabled: Iterable[str] = (),
    ) -> None:
        rank = {name: i for i, name in enumerate(order)}
        off = set(disabled)
        self._background: dict[str, _Background] = {}
        self._by_hook: dict[str, tuple[_Target, ...]] = {}
        for hook in OBSERVER_HOOKS:
            impls = [i for i in getattr(manager.hook, hook).get_hookimpls() if i.plugin_name not in off]
            impls.sort(key=lambda i: rank.get(i.plugin_name, len(rank)))
            self._by_hook[hook] = tuple(self._target(i.plugin_name, i.function, dispatch) for i in impls)
        every = self._by_hook["on_event"]
        self._by_event: dict[str | None, tuple[_Target, ...]] = {
            hook: every + (self._by_hook[hook] if hook else ()) for hook in (None, *OBSERVER_HOOKS)
        }
        self._inline: dict[str | None, tuple[tuple[str, Callable[[Event], Any]], ...]] | None = None
        if not self._background:
            self._inline = {hook: tuple((t.plugin, t.function) for t in targets)
                            for hook, targets in self._by_event.items()}

    def _target(self, plugin: str, function: Callable[[Event], Any], dispatch: Mapping[str, Dispatch]) -> _Target:
        settings = dispatch.get(plugin, Dispatch())
        background = None
        if settings.background:
            background = self._background.get(plugin)
            if background is None:
                background = self._background[plugin] = _Background(plugin, settings.queue_size)
        return _Target(plugin, function, background)

    @property
    def active(self) -> bool:
        """True when any observer is registered (a run without observers builds no events)."""
        return any(self._by_hook.values())

    @property
    def by_event(self) -> Mapping[str | None, tuple[_Target, ...]]:
        """Per event class hook: ``on_event`` implementations followed by those of the event's own hook."""
        return self._by_event

    @property
    def inline(self) -> Mapping[str | None, tuple[tuple[str, Callable[[Event], Any]], ...]] | None:
        """``by_event`` as ``(plugin, function)`` pairs when no plugin is dispatched in the background."""
        return self._inline

    def run(self, *, keep: bool = False) -> ObserverRun:
        """Per-run delivery state (failure counts, switched-off plugins); ``keep``: also keep every event."""
        return ObserverRun(self, kept=[] if keep else None)

    def background_report(self) -> dict[str, dict[str, int]]:
        """Overflow and failures of background plugins since the engine was built."""
        return {name: {"overflow": b.overflow, "failures": b.failures} for name, b in self._background.items()}

    def close(self, timeout: float = 5.0) -> None:
        """Let background queues drain (up to ``timeout`` each) and stop their threads."""
        for background in self._background.values():
            background.close(timeout)
        self._background.clear()


@dataclass(slots=True)
class ObserverRun:
    """Delivers one run's events; counts failures and switches off plugins that keep failing."""

    observers: Observers
    kept: list[Event] | None = None
    """Every event of the run, in order, when the run store keeps them."""
    failures: dict[str, int] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    _targets: Mapping[str | None, tuple[_Target, ...]] = field(init=False)
    _inline: Mapping[str | None, tuple[tuple[str, Callable[[Event], Any]], ...]] | None = field(init=False)
    """The fast path while every observer is called inline and none has been switched off."""

    def __post_init__(self) -> None:
        self._targets = self.observers.by_event
        self._inline = self.observers.inline

    def emit(self, event: Event) -> None:
        """Deliver ``event`` to every interested observer, none of which can affect the run."""
        if self.kept is not None:
            self.kept.append(event)
        inline = self._inline
        if inline is not None:
            for plugin, function in inline[event.hook]:
                try:
                    function(event)
                except BaseException as exc:  # an observer's failure is its own (see interrupted_by_signal)
                    self._failed(plugin, event, exc)
            return
        disabled = self.disabled
        for plugin, function, background in self._targets[event.hook]:
            if disabled and plugin in disabled:
                continue
            if background is None:
                try:
                    function(event)
                except BaseException as exc:  # an observer's failure is its own (see interrupted_by_signal)
                    self._failed(plugin, event, exc)
            else:
                background.offer(function, event)

    def _failed(self, plugin: str, event: Event, exc: BaseException) -> None:
        if interrupted_by_signal(exc):
            raise exc
        count = self.failures[plugin] = self.failures.get(plugin, 0) + 1
        log.warning("observer failed", plugin=plugin, event_type=event.type, error=repr(exc), failures=count)
        if count >= MAX_FAILURES:
            self.disabled.add(plugin)
            self._inline = None  # from now on, every call checks what is switched off
            log.warning("observer switched off for the rest of the run", plugin=plugin, failures=count)

    def report(self) -> Mapping[str, Any]:
        """What went wrong with observers in this run (empty when nothing did)."""
        report: dict[str, Any] = {
            plugin: MappingProxyType({"failures": count, "disabled": plugin in self.disabled})
            for plugin, count in sorted(self.failures.items())
        }
        for plugin, background in sorted(self.observers.background_report().items()):
            if background["overflow"] or background["failures"]:
                report[plugin] = MappingProxyType({**background, "background": True})
        return MappingProxyType(report)
