"""The registration-time check: can each listener accept each event it subscribes to?

One checker serves the bus (at construction), the CLI (``typed-events check``) and the
Litestar plugin. It reports every problem it finds; it never raises a false alarm on a
case it cannot decide.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from typed_events._typecompat import accepts, describe, event_classes_in
from typed_events.errors import SignatureProblem
from typed_events.events import Event
from typed_events.listeners import Listener, underlying_function

__all__ = ["CallShape", "SignatureProblem", "Style", "call_shape", "check_listener"]

_EMPTY = inspect.Parameter.empty
_POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY
_VAR_POSITIONAL = inspect.Parameter.VAR_POSITIONAL
_VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD


class Style(StrEnum):
    """How a listener receives an event."""

    EVENT = "event"  # one parameter annotated with an Event class gets the instance
    KWARGS = "kwargs"  # the event's fields arrive as keyword arguments


@dataclass(frozen=True)
class CallShape:
    """A listener's parameters with their annotations resolved, and its style."""

    parameters: tuple[inspect.Parameter, ...]
    style: Style
    event_parameter: inspect.Parameter | None

    @property
    def var_keyword(self) -> inspect.Parameter | None:
        """The ``**kwargs`` parameter, if any."""
        return next((p for p in self.parameters if p.kind is _VAR_KEYWORD), None)


def call_shape(func: Callable[..., Any], names: Mapping[str, Any] | None = None) -> CallShape:
    """Inspect ``func`` (any callable), resolving postponed annotations where possible.

    ``names`` (e.g. the bus's event classes by class name) resolves string annotations
    that the function's module cannot: classes defined inside a function body.
    """
    parameters = tuple(_resolved_signature(func, names or {}).parameters.values())
    first = next((p for p in parameters if p.kind not in (_VAR_POSITIONAL, _VAR_KEYWORD)), None)
    if (
        first is not None
        and first.kind is not inspect.Parameter.KEYWORD_ONLY
        and event_classes_in(first.annotation)
    ):
        return CallShape(parameters, Style.EVENT, first)
    return CallShape(parameters, Style.KWARGS, None)


def _resolved_signature(func: Callable[..., Any], names: Mapping[str, Any]) -> inspect.Signature:
    try:
        return inspect.signature(func, eval_str=True)
    except (NameError, SyntaxError, TypeError, AttributeError):
        pass
    # Some annotation names something the module does not define at run time: a class
    # local to a function, or an `if TYPE_CHECKING:` import. Resolve each annotation on
    # its own; what stays unresolvable is undecidable, hence accepted.
    signature = inspect.signature(func)
    target = inspect.unwrap(underlying_function(func))
    namespace = {**getattr(target, "__globals__", {}), **names}
    resolved: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        annotation = parameter.annotation
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)  # how inspect resolves them too
            except Exception:  # an unresolvable name
                annotation = Any
        resolved.append(parameter.replace(annotation=annotation))
    return signature.replace(parameters=resolved)


def check_listener(
    subscriber: Listener[..., Any], event_class: type[Event], shape: CallShape | None = None
) -> list[SignatureProblem]:
    """Every reason ``subscriber`` cannot be called with ``event_class``; empty if it can.

    ``shape`` is ``call_shape(subscriber.func)``, when the caller already has it.
    """
    if shape is None:
        shape = call_shape(subscriber.func, {event_class.__name__: event_class})

    def problem(field: str | None, message: str, fix: str) -> SignatureProblem:
        return SignatureProblem(
            subscriber.name, subscriber.location, event_class.event_id, field, message, fix
        )

    if shape.style is Style.EVENT:
        return _check_event_style(shape, event_class, problem)
    return _check_kwargs_style(shape, event_class, problem)


_ProblemFactory = Callable[[str | None, str, str], SignatureProblem]


def _check_event_style(
    shape: CallShape, event_class: type[Event], problem: _ProblemFactory
) -> list[SignatureProblem]:
    problems: list[SignatureProblem] = []
    event_parameter = shape.event_parameter
    assert event_parameter is not None
    if accepts(event_parameter.annotation, event_class) is False:
        problems.append(
            problem(
                None,
                f'parameter "{event_parameter.name}" is annotated '
                f"{describe(event_parameter.annotation)}, which does not accept "
                f"{event_class.__qualname__}",
                f"annotate it `{event_parameter.name}: {event_class.__qualname__}` "
                f"(or a union that includes it), or unsubscribe from {event_class.__qualname__}",
            )
        )
    for parameter in shape.parameters:
        if parameter is event_parameter or parameter.kind in (_VAR_POSITIONAL, _VAR_KEYWORD):
            continue
        if parameter.default is _EMPTY:
            problems.append(
                problem(
                    None,
                    f'parameter "{parameter.name}" is required, but an event-style listener '
                    f'is called with the event alone (as "{event_parameter.name}")',
                    f'give "{parameter.name}" a default, or remove it',
                )
            )
    return problems


def _check_kwargs_style(
    shape: CallShape, event_class: type[Event], problem: _ProblemFactory
) -> list[SignatureProblem]:
    problems: list[SignatureProblem] = []
    fields = event_class.model_fields
    by_name = {p.name: p for p in shape.parameters if p.kind not in (_VAR_POSITIONAL, _VAR_KEYWORD)}
    var_keyword = shape.var_keyword
    for parameter in by_name.values():
        if parameter.kind is _POSITIONAL_ONLY:
            if parameter.default is _EMPTY:
                problems.append(
                    problem(
                        parameter.name if parameter.name in fields else None,
                        f'parameter "{parameter.name}" is positional-only and required, '
                        "but fields are passed by keyword",
                        f'remove the "/" after "{parameter.name}", or give it a default',
                    )
                )
            continue
        if parameter.name not in fields and parameter.default is _EMPTY:
            problems.append(
                problem(
                    parameter.name,
                    f'parameter "{parameter.name}" is required, but {event_class.__qualname__} '
                    f"has no such field (fields: {', '.join(fields) or 'none'})",
                    f'give "{parameter.name}" a default, remove it, or add the field to '
                    f"{event_class.__qualname__}",
                )
            )
    for name, info in fields.items():
        receiver = by_name.get(name)
        if receiver is not None and receiver.kind is _POSITIONAL_ONLY:
            receiver = None  # a positional-only name cannot receive a keyword
        if receiver is None and var_keyword is None:
            problems.append(
                problem(
                    name,
                    f"{event_class.__qualname__} sends this field, and the listener has no "
                    f'parameter "{name}" and no **kwargs',
                    f"add a parameter `{name}: {describe(info.annotation)}`, or `**kwargs: Any`",
                )
            )
            continue
        target = receiver if receiver is not None else var_keyword
        assert target is not None
        if accepts(target.annotation, info.annotation) is False:
            shown = f"**{target.name}" if target is var_keyword else f'parameter "{name}"'
            problems.append(
                problem(
                    name,
                    f"the field is {describe(info.annotation)}, but {shown} is annotated "
                    f"{describe(target.annotation)}, which cannot accept it",
                    f"annotate {shown} as {describe(info.annotation)} (or wider), "
                    "or change the field's type",
                )
            )
    return problems
