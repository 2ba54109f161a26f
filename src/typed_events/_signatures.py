"""The registration-time check: can each listener accept each event it subscribes to?

One checker serves the bus (at construction), the CLI (``typed-events check``) and the
Litestar plugin. It reports every problem it finds; it never raises a false alarm on a
case it cannot decide.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from typed_events._rules import (
    Param,
    TypeRules,
    event_style_findings,
    kwargs_style_findings,
    misspelled_event_finding,
)
from typed_events._typecompat import accepts, describe, event_classes_in, optional_event_classes
from typed_events.errors import SignatureProblem
from typed_events.events import Event
from typed_events.listeners import Listener, underlying_function

__all__ = ["CallShape", "SignatureProblem", "Style", "call_shape", "check_listener"]

_EMPTY = inspect.Parameter.empty
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
    # Parameter name -> why its string annotation could not be resolved (it is Any here).
    unresolved: Mapping[str, Exception] = field(default_factory=dict[str, Exception])
    # `Class.method` taken from the class: its `self` is a parameter like any other.
    unbound_method_of: str | None = None

    @property
    def var_keyword(self) -> inspect.Parameter | None:
        """The ``**kwargs`` parameter, if any."""
        return next((p for p in self.parameters if p.kind is _VAR_KEYWORD), None)


def call_shape(func: Callable[..., Any], names: Mapping[str, Any] | None = None) -> CallShape:
    """Inspect ``func`` (any callable), resolving postponed annotations where possible.

    ``names`` (e.g. the bus's event classes by class name) resolves string annotations
    that the function's module cannot: classes defined inside a function body.
    """
    signature, unresolved = _resolved_signature(func, names or {})
    parameters = tuple(signature.parameters.values())
    first = _first_parameter(parameters)
    if (
        first is not None
        and first.kind is not inspect.Parameter.KEYWORD_ONLY
        and event_classes_in(first.annotation)
    ):
        return CallShape(parameters, Style.EVENT, first, unresolved)
    return CallShape(parameters, Style.KWARGS, None, unresolved, _unbound_method_of(func, first))


def _first_parameter(parameters: tuple[inspect.Parameter, ...]) -> inspect.Parameter | None:
    return next((p for p in parameters if p.kind not in (_VAR_POSITIONAL, _VAR_KEYWORD)), None)


def _unbound_method_of(func: Callable[..., Any], first: inspect.Parameter | None) -> str | None:
    """The class name, if ``func`` is a method taken from its class (``Service.handle``)."""
    if not inspect.isfunction(func) or first is None or first.name != "self":
        return None
    path = func.__qualname__.split(".")  # e.g. ["make", "<locals>", "Service", "handle"]
    owner = path[-2] if len(path) > 1 else "<locals>"
    return None if owner == "<locals>" else owner


def _resolved_signature(
    func: Callable[..., Any], names: Mapping[str, Any]
) -> tuple[inspect.Signature, dict[str, Exception]]:
    try:
        return inspect.signature(func, eval_str=True), {}
    except (NameError, SyntaxError, TypeError, AttributeError):
        pass
    # Some annotation names something the module does not define at run time: a class
    # local to a function, or an `if TYPE_CHECKING:` import. Resolve each annotation on
    # its own; what stays unresolvable is undecidable, hence accepted.
    signature = inspect.signature(func)
    target = inspect.unwrap(underlying_function(func))
    namespace = {**getattr(target, "__globals__", {}), **names}
    resolved: list[inspect.Parameter] = []
    unresolved: dict[str, Exception] = {}
    for parameter in signature.parameters.values():
        annotation = parameter.annotation
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)  # how inspect resolves them too
            except Exception as error:  # an unresolvable name
                unresolved[parameter.name] = error
                annotation = Any
        resolved.append(parameter.replace(annotation=annotation))
    return signature.replace(parameters=resolved), unresolved


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
    mistake = _misspelled_event_parameter(subscriber, shape, event_class, problem)
    if mistake is not None:
        return [mistake]
    return _check_kwargs_style(shape, event_class, problem)


_ProblemFactory = Callable[[str | None, str, str], SignatureProblem]


# The run-time side of the shared rule table (the mypy plugin gives it mypy's types).
_RUNTIME_RULES: TypeRules[Any] = TypeRules(
    accepts=accepts,
    describe=describe,
    event_names=lambda a: tuple(c.__qualname__ for c in event_classes_in(a)),
    optional_event_names=lambda a: tuple(c.__qualname__ for c in optional_event_classes(a)),
)


def _params(shape: CallShape) -> list[Param[Any]]:
    return [Param(p.name, p.kind, p.default is not _EMPTY, p.annotation) for p in shape.parameters]


def _check_event_style(
    shape: CallShape, event_class: type[Event], problem: _ProblemFactory
) -> list[SignatureProblem]:
    params = _params(shape)
    assert shape.event_parameter is not None
    event_param = params[shape.parameters.index(shape.event_parameter)]
    findings = event_style_findings(
        params, event_param, event_class.__qualname__, event_class, _RUNTIME_RULES
    )
    return [problem(*finding) for finding in findings]


def _check_kwargs_style(
    shape: CallShape, event_class: type[Event], problem: _ProblemFactory
) -> list[SignatureProblem]:
    fields = [(name, info.annotation) for name, info in event_class.model_fields.items()]
    findings = kwargs_style_findings(
        _params(shape), event_class.__qualname__, fields, _RUNTIME_RULES
    )
    return [problem(*finding) for finding in findings]


def _misspelled_event_parameter(
    subscriber: Listener[..., Any],
    shape: CallShape,
    event_class: type[Event],
    problem: _ProblemFactory,
) -> SignatureProblem | None:
    """The one problem of a listener meant to take the event that does not say so right.

    Such a listener falls back to kwargs style, where its event parameter is a required
    parameter that is not a field and every field has no parameter: a list of problems
    that all point away from the one mistake.
    """
    if shape.unbound_method_of is not None:
        method = getattr(subscriber.func, "__name__", "method")
        return problem(
            None,
            f"{shape.unbound_method_of}.{method} is a method used without an instance: "
            'its "self" is never filled',
            f"pass the method of an instance, `EventBus(listeners=[{shape.unbound_method_of}()"
            f".{method}])`, or make it a @staticmethod",
        )
    fields = event_class.model_fields
    finding = misspelled_event_finding(_params(shape), list(fields), _RUNTIME_RULES)
    if finding is not None:
        return problem(*finding)
    first = _first_parameter(shape.parameters)
    if first is None or first.name in fields or first.kind is inspect.Parameter.KEYWORD_ONLY:
        return None
    error = shape.unresolved.get(first.name)
    if error is None or first.default is not _EMPTY:
        return None
    missing = error.name if isinstance(error, NameError) and error.name else None
    return problem(
        None,
        f'the annotation "{_as_written(subscriber, first.name)}" of parameter '
        f'"{first.name}" cannot be resolved ({error}), so the listener is not recognized as '
        "taking the event",
        f"import {missing} in the listener's module (at run time, not only under "
        "`if TYPE_CHECKING:`), or correct the name"
        if missing
        else "correct the annotation",
    )


def _as_written(subscriber: Listener[..., Any], name: str) -> str:
    """The annotation of parameter ``name`` as written (a string under postponed annotations)."""
    annotation = inspect.signature(subscriber.func).parameters[name].annotation
    return annotation if isinstance(annotation, str) else describe(annotation)
