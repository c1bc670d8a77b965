"""``Role``, how a node routes: the one type for a node's ``role:`` in the models and in the built DAG.

It lives apart from the models so that the DAG, which the engine imports at start-up, has it without pydantic.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ROLES", "Role"]


class Role(StrEnum):
    """How a node routes the task that reached it."""

    START = "start"
    LINEAR = "linear"
    DECISION = "decision"
    BRANCH = "branch"
    SPLIT = "split"
    MERGE = "merge"
    EXIT = "exit"


ROLES = {role.value: role for role in Role}
"""``Role(name)`` as a plain lookup: the enum's own call costs more than the rest of a node's checks."""
