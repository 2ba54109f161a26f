"""Can a value of one annotated type be passed where another is expected?

A small, conservative subset of what a type checker decides, for the registration
check: ``accepts(target, source)`` answers True, False, or None when it cannot tell.
The check only reports False, so an undecidable case never raises a false alarm.
"""

from __future__ import annotations

import collections.abc
import enum
import inspect
import types
import typing
from typing import (
    Annotated,
    Any,
    Literal,
    NewType,
    TypeVar,
    Union,
    cast,
    get_args,
    get_origin,
)

from typed_events.events import Event

__all__ = [
    "accepts",
    "describe",
    "event_classes_in",
    "optional_event_classes",
    "runtime_type",
    "union_members",
]

_NONE_TYPE = type(None)
_EMPTY_ANNOTATION = inspect.Parameter.empty
# `type X = ...` aliases exist from Python 3.12 on.
_TYPE_ALIAS_TYPES: tuple[type, ...] = tuple(
    t for t in (getattr(typing, "TypeAliasType", None),) if isinstance(t, type)
)

# The numeric tower as mypy applies it: an int (so a bool or an IntEnum too, they are
# int subclasses) is accepted where a float is expected, and a float where a complex is.
_PROMOTIONS: dict[type, tuple[type, ...]] = {
    float: (int,),
    complex: (int, float),
}

# Generic classes whose type arguments vary together with the value (read-only
# containers); for these, element types are compared one by one.
_COVARIANT_ORIGINS = (
    collections.abc.Sequence,
    collections.abc.Iterable,
    collections.abc.Collection,
    collections.abc.Mapping,
    collections.abc.Set,
    frozenset,
    tuple,
    type,
)


def _strip(annotation: Any) -> Any:
    """Remove what does not change the accepted values: Annotated, TypeAliasType.

    A NewType stays: a type checker tells ``UserId`` from its base type.
    """
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif isinstance(annotation, _TYPE_ALIAS_TYPES):
            annotation = annotation.__value__  # type: ignore[attr-defined]  # TypeAliasType (3.12+)
        elif annotation is None:
            return _NONE_TYPE
        else:
            return annotation


def runtime_type(annotation: Any) -> Any:
    """The type of the values at run time: ``_strip`` and NewTypes removed too."""
    annotation = _strip(annotation)
    while isinstance(annotation, NewType):
        annotation = _strip(annotation.__supertype__)
    return annotation


def union_members(annotation: Any) -> tuple[Any, ...] | None:
    """The members of a union (``A | B``, ``Optional[A]``); None if it is not one."""
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return get_args(annotation)
    return None


def _is_top(annotation: Any) -> bool:
    return annotation is Any or annotation is object or annotation is typing.Any


def accepts(target: Any, source: Any) -> bool | None:
    """Whether a parameter annotated ``target`` accepts a value of type ``source``.

    ``inspect.Parameter.empty`` (no annotation) accepts everything. None means the
    answer is not known; callers must treat it as accepted.
    """
    if target is _EMPTY_ANNOTATION:
        return True
    target, source = _strip(target), _strip(source)
    if _is_top(target):
        return True
    if _is_top(source) or isinstance(source, TypeVar) or isinstance(target, TypeVar):
        return None
    source_members = union_members(source)
    if source_members is not None:
        return _all(accepts(target, member) for member in source_members)
    if isinstance(target, NewType):
        return _accepts_new_type(target, source)
    if get_origin(source) is Literal or _mentions_literal(target):
        values = _literal_values(source)
        if values is not None:
            return _all(_accepts_value(target, value) for value in values)
    target_members = union_members(target)
    if target_members is not None:
        return _any(accepts(member, source) for member in target_members)
    if isinstance(source, NewType):
        return accepts(target, source.__supertype__)  # a UserId is an int
    if get_origin(target) is Literal:
        return False if isinstance(source, type) else None  # `str` is wider than Literal["a"]
    return _accepts_class(target, source)


def _accepts_new_type(target: NewType, source: Any) -> bool | None:
    """Only the NewType itself (or a NewType made from it) fits: mypy refuses the base type."""
    while isinstance(source, NewType):
        if source is target:
            return True
        source = _strip(source.__supertype__)
    is_class = isinstance(source, type) and not _validates_to_other_type(source)
    return False if is_class or get_origin(source) is Literal else None


def _mentions_literal(target: Any) -> bool:
    members = union_members(target) or (target,)
    return any(get_origin(_strip(member)) is Literal for member in members)


def _literal_values(source: Any) -> tuple[Any, ...] | None:
    """The values of a type with finitely many: a Literal, ``bool``, an Enum; else None.

    As mypy does, ``bool`` counts as ``Literal[True, False]`` and an Enum as the Literal
    of all its members.
    """
    if get_origin(source) is Literal:
        return get_args(source)
    if source is bool:
        return (True, False)
    if isinstance(source, type) and issubclass(source, enum.Enum) and len(source) > 0:
        return tuple(source)
    return None


def _accepts_value(target: Any, value: Any) -> bool | None:
    """Whether ``target`` accepts the literal ``value`` (``target`` is not a union of sources)."""
    members = union_members(target)
    if members is not None:
        return _any(_accepts_value(_strip(member), value) for member in members)
    if get_origin(target) is Literal:
        # Literal[1] does not accept True, though True == 1: compare the types too.
        allowed = get_args(target)
        return any(type(value) is type(item) and value == item for item in allowed)
    return accepts(target, type(value))


def _accepts_class(target: Any, source: Any) -> bool | None:
    target_origin, target_args = _generic_model_parts(target)
    source_origin, source_args = _generic_model_parts(source)
    if not isinstance(target_origin, type) or not isinstance(source_origin, type):
        return None  # Callable[...], a ParamSpec, a string we could not resolve
    if _validates_to_other_type(source_origin):
        return None  # e.g. pydantic's EmailStr: its values are plain str at run time
    try:
        compatible = issubclass(source_origin, target_origin)
    except TypeError:
        return None  # a non-runtime-checkable Protocol and similar
    if not compatible:
        return issubclass(source_origin, _PROMOTIONS.get(target_origin, ()))
    return _accepts_arguments(target_args, source_args, target_origin)


def _generic_model_parts(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """``(origin, type arguments)``, also of a parametrized Pydantic model (``Box[str]``).

    ``Box[str]`` is a class of its own, a subclass of ``Box`` but not of ``Box[Any]``;
    its metadata names the generic origin and the arguments.
    """
    metadata = getattr(annotation, "__pydantic_generic_metadata__", None)
    if isinstance(annotation, type) and metadata and metadata.get("origin") is not None:
        return metadata["origin"], tuple(metadata["args"])
    return get_origin(annotation) or annotation, get_args(annotation)


def _accepts_arguments(
    target_args: tuple[Any, ...], source_args: tuple[Any, ...], target_origin: type
) -> bool | None:
    if not target_args or not source_args:
        return True  # a bare `list` accepts any list, and `list[int]` fits `list`
    if len(target_args) != len(source_args) or Ellipsis in target_args + source_args:
        return None
    results = [accepts(t, s) for t, s in zip(target_args, source_args, strict=True)]
    if any(r is False for r in results):
        # Element types that cannot match make the containers incompatible, even for
        # invariant ones (list[int] into list[str]).
        return False
    if issubclass(target_origin, _COVARIANT_ORIGINS):
        return _all(results)
    if all(_is_top(t) or t == s for t, s in zip(target_args, source_args, strict=True)):
        return True  # the same arguments, or Any: Box[Any] accepts Box[str]
    return None  # invariant containers with wider elements: a checker would say no, we abstain


def _validates_to_other_type(cls: type) -> bool:
    """A class that Pydantic validates into values of another type."""
    from pydantic import BaseModel

    return hasattr(cls, "__get_pydantic_core_schema__") and not issubclass(cls, BaseModel)


# Three-valued logic: True, False, or None (not known).
def _all(results: collections.abc.Iterable[bool | None]) -> bool | None:
    outcome: bool | None = True
    for result in results:
        if result is False:
            return False
        if result is None:
            outcome = None
    return outcome


def _any(results: collections.abc.Iterable[bool | None]) -> bool | None:
    return _not(_all(_not(result) for result in results))  # De Morgan


def _not(result: bool | None) -> bool | None:
    return None if result is None else not result


def event_classes_in(annotation: Any) -> tuple[type[Event], ...]:
    """The Event classes an annotation names: ``A``, ``A | B``, ``Event``; else empty.

    ``A | None`` is not an event parameter: an event is never None.
    """
    annotation = _strip(annotation)
    members = union_members(annotation) or (annotation,)
    found: list[type[Event]] = []
    for member in members:
        member = _strip(member)
        if not (isinstance(member, type) and issubclass(member, Event)):
            return ()
        found.append(member)
    return tuple(found)


def optional_event_classes(annotation: Any) -> tuple[type[Event], ...]:
    """The Event classes of ``A | None`` (or ``Optional[A | B]``); else empty."""
    members = union_members(_strip(annotation)) or ()
    if _NONE_TYPE not in members:
        return ()
    return event_classes_in(Union[tuple(m for m in members if m is not _NONE_TYPE)])  # noqa: UP007


def describe(annotation: Any) -> str:
    """A short, readable spelling of an annotation for messages."""
    if annotation is _EMPTY_ANNOTATION:
        return "(no annotation)"
    if annotation is None or annotation is _NONE_TYPE:
        return "None"
    if isinstance(annotation, NewType):
        return annotation.__name__
    members = union_members(annotation)
    if members is not None:
        return " | ".join(describe(member) for member in members)
    if get_origin(annotation) is Literal:
        return f"Literal[{', '.join(_literal_text(value) for value in get_args(annotation))}]"
    if isinstance(annotation, type) and not get_args(annotation):
        return (
            annotation.__qualname__ if annotation.__module__ != "builtins" else annotation.__name__
        )
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(origin, type) and args:
        return f"{describe(origin)}[{', '.join(_argument_text(arg) for arg in args)}]"
    text = repr(annotation)
    return text.replace("typing.", "")


def _argument_text(argument: object) -> str:
    if argument is ...:
        return "..."
    if isinstance(argument, list):  # the parameters of Callable[[int], str]
        items: list[object] = cast("list[object]", argument)
        return f"[{', '.join(_argument_text(item) for item in items)}]"
    return describe(argument)


def _literal_text(value: object) -> str:
    """A Literal value as it is written: ``Color.RED``, not ``<Color.RED: 1>``."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    return repr(value)
