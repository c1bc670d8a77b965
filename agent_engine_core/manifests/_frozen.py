"""Read-only values for the manifest models: what an engine hands out cannot be changed through it.

pydantic's ``frozen`` only stops attribute assignment; the lists and dicts a model holds stay mutable. The
models therefore keep typed lists as tuples and JSON content (``config:``, inline schemas) as ``FrozenDict`` and
``FrozenList``: subclasses of ``dict`` and ``list``, so that JSON encoders, ``jsonschema`` and plugin code that
checks ``isinstance(value, dict)`` read them as before, but every method that would change them raises.

``Items[X]`` and ``JSONObject`` validate exactly what ``list[X]`` and ``dict[str, Any]`` validate (same strict
rules, same error messages and locations, same JSON schema, same ``model_dump`` output) and store the result
read-only.
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable, Mapping
from typing import Annotated, Any, NoReturn, TypeVar, Union, get_args, get_origin

from pydantic import Field, GetCoreSchemaHandler
from pydantic_core import core_schema

__all__ = ["AsWritten", "FrozenDict", "FrozenList", "Items", "JSONObject", "NonEmptyItems", "freeze"]


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(f"'{type(self).__name__}' is read-only: it belongs to a loaded project; copy it to change it")


class FrozenDict(dict[str, Any]):
    """A JSON object that refuses changes; ``copy.deepcopy``, ``dict(d)`` and ``d | other`` give mutable dicts."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, Any]]]:
        """Pickles are built whole (the default would fill an empty one item by item)."""
        return FrozenDict, (dict(self),)

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        """A copy is for changing: it is a plain dict all the way down (how the engine gives a provider its own)."""
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}


class FrozenList(list[Any]):
    """A JSON array that refuses changes; ``copy.deepcopy``, ``list(a)`` and ``a + other`` give mutable lists."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = extend = insert = pop = remove = clear = _refuse
    sort = reverse = _refuse

    def __reduce__(self) -> tuple[type[FrozenList], tuple[list[Any]]]:
        """Pickles are built whole (the default would fill an empty one item by item)."""
        return FrozenList, (list(self),)

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        """A copy is for changing: it is a plain list all the way down."""
        return [copy.deepcopy(value, memo) for value in self]


def freeze(value: Any) -> Any:
    """``value`` with every dict and list in it (at any depth) made read-only; other values as they are."""
    if isinstance(value, dict):
        return value if type(value) is FrozenDict else FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return value if type(value) is FrozenList else FrozenList([freeze(v) for v in value])
    return value


class AsWritten:
    """Validates an annotation as the mutable type YAML writes for it, then stores the result read-only.

    ``tuple[X, ...]`` is validated as ``list[X]`` (strict pydantic refuses a list where a tuple is declared)
    and kept as a tuple; ``Mapping[K, V]`` is validated as ``dict[K, V]`` and kept as a ``FrozenDict``. Unions
    are validated member by member, so their error locations keep the names ``list``/``dict`` give them.
    """

    __slots__ = ("constraints",)

    def __init__(self, *constraints: Any) -> None:
        self.constraints = constraints
        """Constraints of the list (``Field(min_length=1)``): pydantic cannot apply a field's through a validator."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        written = _written(source)
        if self.constraints:
            written = Annotated[written, *self.constraints]
        schema = handler.generate_schema(written)
        if get_origin(source) is tuple:
            return core_schema.no_info_after_validator_function(
                tuple, schema,
                serialization=core_schema.wrap_serializer_function_ser_schema(_as_list, schema=schema),
            )
        return core_schema.no_info_after_validator_function(freeze, schema)


def _written(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is tuple:
        return list[get_args(annotation)[0]]  # type: ignore[misc]
    if origin is Mapping:
        key, value = get_args(annotation)
        return dict[key, value]  # type: ignore[valid-type]
    if origin is Union or origin is types.UnionType:
        return Union[tuple(_written(arg) for arg in get_args(annotation))]  # noqa: UP007 - built from a tuple
    return annotation


def _as_list(value: tuple[Any, ...], serialize: Callable[[Any], Any]) -> Any:
    """Serialise a tuple as the list it was written as (``model_dump`` gives lists, as it always did)."""
    return serialize(list(value))


_T = TypeVar("_T")
Items = Annotated[tuple[_T, ...], AsWritten()]
"""A YAML list of ``_T``, kept as a tuple."""

NonEmptyItems = Annotated[tuple[_T, ...], AsWritten(Field(min_length=1))]
"""A YAML list of at least one ``_T``, kept as a tuple."""

JSONObject = Annotated[Mapping[str, Any], AsWritten()]
"""A JSON object (``config:``), kept as a ``FrozenDict`` with every nested object and array read-only."""
