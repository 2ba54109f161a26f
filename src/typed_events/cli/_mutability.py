"""Which fields of an event a listener could change under another one.

An event is a frozen model, but Pydantic's ``frozen`` is shallow: the list in a
``list[str]`` field, or a nested model that is not frozen itself, can still be changed by
one listener while the others read it. :func:`mutable_parts` finds them (inside unions,
containers and nested models too) and spells each one the immutable way.
"""

from __future__ import annotations

import collections
import collections.abc
import dataclasses
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from typed_events._typecompat import describe, runtime_type, union_members

__all__ = ["Mutability", "MutablePart", "mutable_parts"]


class Mutability(Enum):
    """What makes a part mutable."""

    CONTAINER = "container"  # a list, dict or set: spell it immutably
    HOLDS_CONTAINER = "holds container"  # e.g. a tuple of lists: spell the inside immutably
    MODEL = "model"  # a nested Pydantic model that is not frozen
    DATACLASS = "dataclass"  # a nested dataclass that is not frozen


# Mutable containers, by the immutable spelling they get: tuple, frozenset, Mapping.
_SEQUENCES = (list, collections.deque, collections.abc.MutableSequence)
_SETS = (set, collections.abc.MutableSet)
_MAPPINGS = (
    dict,
    collections.defaultdict,
    collections.OrderedDict,
    collections.Counter,
    collections.abc.MutableMapping,
)


@dataclass(frozen=True)
class MutablePart:
    """One mutable part of an event.

    :param path: the field, dotted through frozen nested models (``label.colors``).
    :param owner: the model that declares the field (the event, or a nested model).
    :param name: the field's name in ``owner``.
    :param kind: a mutable container, or a model or dataclass that is not frozen.
    :param found: the field's type as declared, or the model's name.
    :param spelling: the immutable type to declare instead (for containers).
    """

    path: str
    owner: type
    name: str
    kind: Mutability
    found: str
    spelling: str = ""


def mutable_parts(model: type[BaseModel]) -> list[MutablePart]:
    """Every mutable part of ``model``'s fields, in field order."""
    return list(_parts_of(model, "", frozenset()))


def _parts_of(
    model: type[object], prefix: str, enclosing: frozenset[type]
) -> Iterator[MutablePart]:
    enclosing |= {model}  # a model that holds itself (a tree) is walked once per path
    for name, annotation in _field_types(model):
        path = f"{prefix}{name}"
        if _has_mutable_container(annotation):
            kind = Mutability.CONTAINER if _is_container(annotation) else Mutability.HOLDS_CONTAINER
            spelling = _immutable_spelling(annotation)
            yield MutablePart(path, model, name, kind, describe(annotation), spelling)
        for nested in _models_in(annotation):
            if nested in enclosing:
                continue
            if _is_frozen(nested):
                yield from _parts_of(nested, f"{path}.", enclosing)
            else:
                kind = Mutability.MODEL if issubclass(nested, BaseModel) else Mutability.DATACLASS
                yield MutablePart(path, model, name, kind, nested.__qualname__)


def _field_types(model: type[object]) -> list[tuple[str, Any]]:
    """``(name, annotation)`` of each field of a Pydantic model or a dataclass."""
    if issubclass(model, BaseModel):
        return [(name, info.annotation) for name, info in model.model_fields.items()]
    if not dataclasses.is_dataclass(model):
        return []
    try:
        hints = typing.get_type_hints(model)
    except Exception:  # an annotation that names what its module does not define
        return []
    return [(f.name, hints[f.name]) for f in dataclasses.fields(model) if f.name in hints]


def _container_kind(origin: Any) -> str | None:
    """``"sequence"``, ``"set"`` or ``"mapping"`` for a mutable container class; else None."""
    if not isinstance(origin, type):
        return None
    for kind, classes in (("mapping", _MAPPINGS), ("set", _SETS), ("sequence", _SEQUENCES)):
        if issubclass(origin, classes):
            return kind
    return None


def _is_container(annotation: Any) -> bool:
    """A mutable container itself (or a union with one), not one that only holds some."""
    annotation = runtime_type(annotation)
    members = union_members(annotation)
    if members is not None:
        return any(_is_container(member) for member in members)
    return _container_kind(get_origin(annotation) or annotation) is not None


def _has_mutable_container(annotation: Any) -> bool:
    annotation = runtime_type(annotation)
    origin = get_origin(annotation) or annotation
    if _container_kind(origin) is not None:
        return True
    return any(_has_mutable_container(arg) for arg in get_args(annotation) if arg is not ...)


def _immutable_spelling(annotation: Any) -> str:
    """``annotation`` written with immutable containers: ``list[str]`` -> ``tuple[str, ...]``."""
    annotation = runtime_type(annotation)
    origin = get_origin(annotation) or annotation
    args = get_args(annotation)
    if union_members(annotation) is not None:
        return " | ".join(_immutable_spelling(arg) for arg in args)
    kind = _container_kind(origin)
    spelled = [_immutable_spelling(arg) for arg in args if arg is not ...]
    if kind == "sequence":
        return f"tuple[{spelled[0] if spelled else 'Any'}, ...]"
    if kind == "set":
        return f"frozenset[{spelled[0] if spelled else 'Any'}]"
    if kind == "mapping":
        if spelled and issubclass(origin, collections.Counter):
            spelled.append("int")  # Counter[str] counts with ints
        return f"Mapping[{', '.join(spelled) if spelled else 'Any, Any'}]"
    if origin is tuple and args:
        shown = [*spelled, "..."] if ... in args else spelled
        return f"tuple[{', '.join(shown)}]"
    if args and isinstance(origin, type):
        return f"{describe(origin)}[{', '.join(spelled)}]"
    return describe(annotation)


def _models_in(annotation: Any) -> Iterator[type]:
    """The model and dataclass types an annotation holds, at any depth."""
    annotation = runtime_type(annotation)
    if isinstance(annotation, type):
        cls: type = annotation
        if _is_model(cls):
            yield cls
        return
    for arg in get_args(annotation):
        if arg is not ...:
            yield from _models_in(arg)


def _is_model(cls: type) -> bool:
    """A Pydantic model or a dataclass: a type whose instances hold fields."""
    return dataclasses.is_dataclass(cls) or issubclass(cls, BaseModel)


def _is_frozen(cls: type) -> bool:
    if dataclasses.is_dataclass(cls):
        params: object = getattr(cls, "__dataclass_params__", None)
        return bool(getattr(params, "frozen", False))
    return issubclass(cls, BaseModel) and bool(cls.model_config.get("frozen", False))
