"""JSON Schema validation of node inputs and outputs (``schema_in`` / ``schema_out``).

Schema files may refer to each other with ``$ref: "<stem>.json"``; every file is registered under its file
name. Validators are compiled once, when the engine is built. jsonschema is imported on first use: a project
without schemas never pays for it, and neither does ``import agent_engine_core``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema
    from referencing import Registry

__all__ = ["SchemaSet", "Violation", "schema_problem"]

_MAX_VIOLATIONS = 20


class Violation(dict[str, str]):
    """One validation error: ``{"path": "/a/0", "message": "..."}``."""


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a usable JSON Schema, or ``None`` when it is.

    ``$schema`` is checked before jsonschema sees it: jsonschema falls back to the latest draft with a
    ``DeprecationWarning`` for a dialect it does not know, and fails with an unrelated error for one that is
    not a string; a manifest deserves a located issue for both.
    """
    import jsonschema  # noqa: PLC0415 - see the module docstring
    from referencing.jsonschema import UnknownDialect, specification_with  # noqa: PLC0415

    if not isinstance(schema, dict | bool):
        return "a JSON Schema must be an object (or true/false)"
    if isinstance(schema, dict) and "$schema" in schema:
        dialect = schema["$schema"]
        if not isinstance(dialect, str):
            return "'$schema' must be a string naming a JSON Schema dialect"
        try:
            specification_with(dialect)
        except UnknownDialect:
            return f"unknown '$schema' dialect {dialect!r}; leave it out to use draft 2020-12"
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)  # type: ignore[arg-type]  # true and false are schemas too
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        return f"invalid JSON Schema at {where}: {exc.message}"
    return None


class SchemaSet:
    """The project's named schemas and the compiled validators nodes use."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self._schemas = dict(schemas)
        self._registry: Registry[Any] | None = None
        self._compiled: dict[str, jsonschema.protocols.Validator] = {}

    def validator(self, ref: str | Mapping[str, Any]) -> jsonschema.protocols.Validator:
        """A compiled validator for a schema stem or an inline schema."""
        if isinstance(ref, str):
            found = self._compiled.get(ref)
            if found is None:
                found = self._compile(self._schemas[ref])
                self._compiled[ref] = found
            return found
        return self._compile(dict(ref))

    def _compile(self, schema: Any) -> jsonschema.protocols.Validator:
        import jsonschema  # noqa: PLC0415 - see the module docstring
        from referencing import Registry, Resource  # noqa: PLC0415
        from referencing.jsonschema import DRAFT202012  # noqa: PLC0415

        if self._registry is None:
            self._registry = Registry().with_resources(
                (f"{stem}.json", Resource.from_contents(s, default_specification=DRAFT202012))
                for stem, s in self._schemas.items()
            )
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        return cls(schema, registry=self._registry)

    @staticmethod
    def violations(validator: jsonschema.protocols.Validator, value: Any) -> list[Violation]:
        """Every way ``value`` breaks the schema, in a stable order (at most 20)."""
        found = [
            Violation(path="/" + "/".join(str(p) for p in error.absolute_path), message=error.message)
            for error in validator.iter_errors(value)
        ]
        found.sort(key=lambda v: (v["path"], v["message"]))
        return found[:_MAX_VIOLATIONS]
