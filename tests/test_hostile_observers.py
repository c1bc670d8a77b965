"""Observers only watch: whatever one does to the events it gets, or raises, the run is the run (SPEC §5).

A hostile observer tampers with every object an event reaches, through every route Python offers
(``object.__setattr__``, ``__dict__``, ``vars()``, references kept and changed later from another thread),
sleeps, and raises every kind of exception, ``BaseException`` subclasses included; result, history, digest and
completion stay what a run without it gives.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest
from _workflows import fail, node, workflow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine, hookimpl


class CustomBase(BaseException):
    """Not an ``Exception``: what a careless plugin might raise to 'stop' something."""


RAISES = {
    "system_exit": lambda: SystemExit(3),
    "keyboard_interrupt": KeyboardInterrupt,
    "generator_exit": GeneratorExit,
    "custom_base": CustomBase,
    "exception": lambda: RuntimeError("observer bug"),
}
ACTIONS = ("tamper", "hold", "sleep", "none", *RAISES)
EVENT_TYPES = ("task_started", "node_started", "node_finished", "node_failed", "routing_decision",
               "child_created", "merge_fired", "task_finished")
GARBAGE = "tampered"


def _reachable(value: Any, seen: set[int]) -> list[Any]:
    """Every object reachable from an event through its fields, items and attributes."""
    if id(value) in seen or isinstance(value, str | int | float | bool | type(None)):
        return []
    seen.add(id(value))
    found = [value]
    children: list[Any] = []
    if isinstance(value, tuple | list):
        children.extend(value)
    if isinstance(value, dict):
        children.extend(value.values())
    for name in getattr(value, "_fields", ()) + tuple(getattr(type(value), "__slots__", ())):
        children.append(getattr(value, name, None))
    if hasattr(value, "__dict__"):
        children.extend(vars(value).values())
    for child in children:
        found.extend(_reachable(child, seen))
    return found


def tamper(event: Any) -> None:
    """Try every way of changing every object the event reaches; each refusal is swallowed."""
    for obj in _reachable(event, set()):
        names = set(getattr(obj, "_fields", ())) | set(getattr(type(obj), "__slots__", ()))
        names |= {"message", "kind", "node_id", "details_json", "path", "parent_id", "index", "output_json"}
        for name in names:
            for attempt in (
                lambda o=obj, n=name: object.__setattr__(o, n, GARBAGE),
                lambda o=obj, n=name: o.__dict__.__setitem__(n, GARBAGE),
                lambda o=obj, n=name: vars(o).__setitem__(n, GARBAGE),
            ):
                try:
                    attempt()
                except (AttributeError, TypeError):
                    pass
        if isinstance(obj, list):
            obj.append(GARBAGE)
        if isinstance(obj, dict):
            obj[GARBAGE] = GARBAGE


class Hostile:
    """An observer doing ``actions[event type]`` to each event; kept events are tampered with after the run."""

    def __init__(self, actions: dict[str, str]) -> None:
        self.actions = actions
        self.kept: list[Any] = []

    @hookimpl
    def on_event(self, event: Any) -> None:
        action = self.actions.get(event.type, "none")
        if action == "tamper":
            tamper(event)
        elif action == "hold":
            self.kept.append(event)
        elif action == "sleep":
            time.sleep(0.002)  # a slow observer delays the run; it cannot change it
        elif action in RAISES:
            raise RAISES[action]()

    @hookimpl
    def on_node_finished(self, event: Any) -> None:
        tamper(event)


def _fingerprint(result: Any) -> tuple[Any, ...]:
    return (result.status, result.output, result.error, result.trace.digest, result.trace.canonical(),
            tuple(r.error.to_dict() if r.error else None for r in result.trace))


@pytest.fixture(scope="module")
def baseline() -> tuple[Any, ...]:
    return _fingerprint(_engine_with().run({"q": 1}, run_id="hostile"))


def _engine_with(*observers: Any) -> Any:
    wf, handlers = workflow(
        [node("s", "start"), node("flaky", "linear", handler=fail("first"), continue_on_failure=True),
         node("fork", "branch"), node("a", "linear", handler=lambda p, c: {"a": p}),
         node("b", "linear", handler=fail("second")), node("join", "merge", merge={"on_failure": "include_failures"}),
         node("x", "exit")],
        [("s", "flaky"), ("flaky", "fork"), ("fork", "a"), ("fork", "b"), ("a", "join"), ("b", "join"),
         ("join", "x")],
    )
    return Engine.from_dict({"workflow": wf}, handlers=handlers, plugins=list(observers))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.dictionaries(st.sampled_from(EVENT_TYPES), st.sampled_from(ACTIONS)))
def test_no_observer_can_change_a_run_or_end_it(baseline: tuple[Any, ...], actions: dict[str, str]) -> None:
    hostile = Hostile(actions)
    result = _engine_with(hostile).run({"q": 1}, run_id="hostile")
    assert _fingerprint(result) == baseline
    thread = threading.Thread(target=lambda: [tamper(event) for event in hostile.kept])
    thread.start()
    thread.join()
    assert _fingerprint(result) == baseline  # references held past the run change nothing either


def test_an_error_inside_a_node_failed_event_cannot_be_rewritten() -> None:
    seen: list[Any] = []

    class Rewriter:
        @hookimpl
        def on_event(self, event: Any) -> None:
            if event.type == "node_failed":
                seen.append(event)
                object.__setattr__(event.error, "message", "rewritten")

    result = _engine_with(Rewriter()).run({"q": 1}, run_id="hostile")
    assert seen, "the workflow has failing nodes: node_failed events must have been delivered"
    assert all(event.error.message != "rewritten" for event in seen)
    assert [r.error.message for r in result.trace if r.error] == ["first", "second"]


@pytest.mark.parametrize("raised", sorted(RAISES))
def test_an_observer_raising_anything_is_counted_and_switched_off(raised: str) -> None:
    hostile = Hostile(dict.fromkeys(EVENT_TYPES, raised))
    result = _engine_with(hostile).run({"q": 1}, run_id="hostile")
    assert result.status == "partial"
    report = result.metadata["observers"]
    (entry,) = report.values()
    assert entry["failures"] >= 3
    assert entry["disabled"] is True


def test_a_real_ctrl_c_while_an_observer_runs_still_stops_the_run() -> None:
    class Interrupted:
        @hookimpl
        def on_event(self, event: Any) -> None:
            if event.type == "node_started":
                signal.raise_signal(signal.SIGINT)  # what Ctrl-C does: Python's handler raises mid-instruction
                time.sleep(0.01)

    with pytest.raises(KeyboardInterrupt):
        _engine_with(Interrupted()).run({"q": 1}, run_id="hostile")
