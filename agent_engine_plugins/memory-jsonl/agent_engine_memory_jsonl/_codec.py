"""One memory item or artifact as one JSON line, and back.

A line is an object with fixed fields in a fixed order. ``payload`` and ``metadata`` are embedded as JSON
values, not as strings holding JSON, so the files read well and ``jq`` works on them. The core's compact
encoding (``agent_engine_core.codec.dumps``) writes them, and re-encoding a decoded value gives back the same
text. Every record held in memory is therefore built from its line, exactly as a later load will build it:
a query answers the same before and after a restart, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from agent_engine_core.codec import dumps, loads
from agent_engine_core.memory import STORES, Artifact, MemoryItem

__all__ = ["ARTIFACT_CODEC", "ITEM_CODEC", "Codec", "LineError", "Record"]


class Record(Protocol):
    """What the index needs of a stored record (``MemoryItem`` and ``Artifact`` both have it)."""

    @property
    def project_id(self) -> str:
        """The project the record belongs to."""
        ...

    @property
    def task_id(self) -> str | None:
        """The task that wrote it, if any."""
        ...

    @property
    def created_at(self) -> float:
        """When it was written (seconds since the epoch)."""
        ...


R = TypeVar("R", bound=Record)

ITEM_FIELDS = ("id", "task_id", "project_id", "store", "payload", "created_at", "tags", "metadata")
ARTIFACT_FIELDS = ("id", "kind", "project_id", "task_id", "node_id", "schema", "payload", "created_at", "metadata")


class LineError(ValueError):
    """A line that is not a record of the file's kind (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class Codec(Generic[R]):
    """How one kind of record (items or artifacts) becomes a line and comes back from one."""

    what: str
    to_fields: Callable[[R], dict[str, Any]]
    from_fields: Callable[[dict[str, Any]], R]
    fields: tuple[str, ...]

    def encode(self, record: R) -> tuple[bytes, R]:
        """The record's line (with its newline) and the record as a load will rebuild it from that line.

        Raises:
            ValueError: the payload or metadata is not JSON text, or a field has a value JSON cannot hold.
        """
        try:
            fields = self.to_fields(record)
            return (dumps(fields) + "\n").encode(), self.from_fields(fields)
        except TypeError as exc:
            raise ValueError(f"cannot store this {self.what}: {exc}") from None

    def decode(self, line: bytes) -> R:
        """The record a line holds; ``LineError`` when the line is not one."""
        try:
            fields = loads(line)
        except ValueError as exc:
            raise LineError(f"not JSON ({exc})") from None
        if not isinstance(fields, dict) or tuple(fields) != self.fields:
            raise LineError(f"not a {self.what} record (expected the fields {', '.join(self.fields)})")
        try:
            return self.from_fields(fields)
        except (TypeError, ValueError) as exc:
            raise LineError(f"not a {self.what} record ({exc})") from None


def _json_value(text: str, name: str) -> Any:
    try:
        return loads(text)
    except ValueError as exc:
        raise ValueError(f"{name} is not JSON text: {exc}") from None


def _text(value: Any, name: str, *, optional: bool = False) -> Any:
    if isinstance(value, str) or (optional and value is None):
        return value
    raise TypeError(f"{name} must be {'text or null' if optional else 'text'}, got {value!r}")


def _time(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise TypeError(f"created_at must be a number, got {value!r}")


def _item_fields(item: MemoryItem) -> dict[str, Any]:
    return {
        "id": item.id, "task_id": item.task_id, "project_id": item.project_id, "store": item.store,
        "payload": _json_value(item.payload_json, "payload_json"), "created_at": item.created_at,
        "tags": list(item.tags), "metadata": _json_value(item.metadata_json, "metadata_json"),
    }


def _item(fields: dict[str, Any]) -> MemoryItem:
    store, tags = fields["store"], fields["tags"]
    if store not in STORES:
        raise ValueError(f"store must be one of {', '.join(STORES)}, got {store!r}")
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise TypeError(f"tags must be a list of text, got {tags!r}")
    return MemoryItem(
        id=_text(fields["id"], "id"), store=store, project_id=_text(fields["project_id"], "project_id"),
        payload_json=dumps(fields["payload"]), created_at=_time(fields["created_at"]),
        task_id=_text(fields["task_id"], "task_id", optional=True), tags=tuple(tags),
        metadata_json=dumps(fields["metadata"]),
    )


def _artifact_fields(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.id, "kind": artifact.kind, "project_id": artifact.project_id, "task_id": artifact.task_id,
        "node_id": artifact.node_id, "schema": artifact.schema,
        "payload": _json_value(artifact.payload_json, "payload_json"), "created_at": artifact.created_at,
        "metadata": _json_value(artifact.metadata_json, "metadata_json"),
    }


def _artifact(fields: dict[str, Any]) -> Artifact:
    return Artifact(
        id=_text(fields["id"], "id"), kind=_text(fields["kind"], "kind"),
        project_id=_text(fields["project_id"], "project_id"), task_id=_text(fields["task_id"], "task_id"),
        payload_json=dumps(fields["payload"]), created_at=_time(fields["created_at"]),
        node_id=_text(fields["node_id"], "node_id", optional=True),
        schema=_text(fields["schema"], "schema", optional=True), metadata_json=dumps(fields["metadata"]),
    )


ITEM_CODEC: Codec[MemoryItem] = Codec("memory item", _item_fields, _item, ITEM_FIELDS)
ARTIFACT_CODEC: Codec[Artifact] = Codec("artifact", _artifact_fields, _artifact, ARTIFACT_FIELDS)
