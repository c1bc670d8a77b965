"""Every event class is a slotted named tuple that starts with the one envelope and then declares its own fields."""

from __future__ import annotations

import inspect

import pytest

from agent_engine_core.events import EVENT_TYPES, Event

ENVELOPE = ("type", "run_id", "task_id", "seq", "timestamp")
CLASSES = sorted(set(EVENT_TYPES.values()), key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_an_event_is_the_envelope_then_its_declared_fields(cls):
    assert cls._fields[:5] == ENVELOPE
    assert cls._fields[5:] == tuple(inspect.get_annotations(cls))
    assert issubclass(cls, tuple) and issubclass(cls, Event)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_an_event_has_no_instance_dict_and_refuses_assignment(cls):
    values = [f"v{i}" for i in range(len(cls._fields) - len(cls._field_defaults))]
    event = cls(*values)
    assert not hasattr(event, "__dict__")
    assert event.type == "v0" and event.event_id == "v2@v3"
    for name in cls._fields:
        with pytest.raises(AttributeError):
            setattr(event, name, "changed")
    with pytest.raises(AttributeError):
        event.extra = 1  # type: ignore[attr-defined]


def test_defaults_are_kept_for_the_trailing_fields_that_declare_one():
    task_finished = EVENT_TYPES["task_finished"]
    event = task_finished("task_finished", "r", "r", 1, 0.0, "success", "null")
    assert (event.error, event.waiting_at) == (None, None)
    assert EVENT_TYPES["agent_call"]._field_defaults == {"usage": {}, "latency_s": 0.0, "error": None, "attempts": 1}
