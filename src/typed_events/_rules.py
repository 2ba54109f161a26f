"""The rules a listener's signature must satisfy, on any representation of types.

One rule table serves two checkers: the registration check (:mod:`typed_events._signatures`,
on run-time annotations) and the mypy plugin (:mod:`typed_events.mypy`, on mypy's types).
Each gives the parameters in a neutral form plus two functions, ``accepts(target, source)``
(True, False, or None when it cannot tell) and ``describe(annotation)``; the rules and the
text of every finding are written once, here. Only a False answer is a finding, so an
undecidable case never raises a false alarm.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

__all__ = [
    "Finding",
    "Param",
    "TypeRules",
    "event_style_findings",
    "kwargs_style_findings",
    "misspelled_event_finding",
]

A = TypeVar("A")

POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY
POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
VAR_POSITIONAL = inspect.Parameter.VAR_POSITIONAL
KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD
_VARIADIC = (VAR_POSITIONAL, VAR_KEYWORD)


@dataclass(frozen=True)
class Param(Generic[A]):
    """One parameter of a listener: its kind as :mod:`inspect` names it, and its type."""

    name: str
    kind: inspect._ParameterKind  # pyright: ignore[reportPrivateUsage]  # inspect's own name for Parameter.kind's type
    has_default: bool
    annotation: A


@dataclass(frozen=True)
class TypeRules(Generic[A]):
    """How one checker compares and spells its types.

    ``event_names(a)``: the Event classes ``a`` names (``A``, ``A | B``), empty if it names
    anything else; ``optional_event_names(a)``: the same for ``A | None``.
    """

    accepts: Callable[[A, A], bool | None]
    describe: Callable[[A], str]
    event_names: Callable[[A], tuple[str, ...]]
    optional_event_names: Callable[[A], tuple[str, ...]]


class Finding(NamedTuple):
    """One problem: the field it concerns (if any), what is wrong, and how to fix it."""

    field: str | None
    message: str
    fix: str


def event_style_findings(
    params: Sequence[Param[A]],
    event_param: Param[A],
    event_name: str,
    event_type: A,
    rules: TypeRules[A],
) -> list[Finding]:
    """Why an event-style listener (``event_param`` gets the instance) cannot take the event."""
    findings: list[Finding] = []
    if rules.accepts(event_param.annotation, event_type) is False:
        findings.append(
            Finding(
                None,
                f'parameter "{event_param.name}" is annotated '
                f"{rules.describe(event_param.annotation)}, which does not accept {event_name}",
                f"annotate it `{event_param.name}: {event_name}` "
                f"(or a union that includes it), or unsubscribe from {event_name}",
            )
        )
    for param in params:
        if param is event_param or param.kind in _VARIADIC or param.has_default:
            continue
        findings.append(
            Finding(
                None,
                f'parameter "{param.name}" is required, but an event-style listener '
                f'is called with the event alone (as "{event_param.name}")',
                f'give "{param.name}" a default, or remove it',
            )
        )
    return findings


def kwargs_style_findings(
    params: Sequence[Param[A]],
    event_name: str,
    fields: Sequence[tuple[str, A]],
    rules: TypeRules[A],
) -> list[Finding]:
    """Why a kwargs-style listener (the fields arrive as keywords) cannot take the event."""
    findings: list[Finding] = []
    field_names = [name for name, _ in fields]
    by_name = {p.name: p for p in params if p.kind not in _VARIADIC}
    var_keyword = next((p for p in params if p.kind is VAR_KEYWORD), None)
    for param in by_name.values():
        if param.kind is POSITIONAL_ONLY:
            if not param.has_default:
                findings.append(
                    Finding(
                        param.name if param.name in field_names else None,
                        f'parameter "{param.name}" is positional-only and required, '
                        "but fields are passed by keyword",
                        f'remove the "/" after "{param.name}", or give it a default',
                    )
                )
            continue
        if param.name not in field_names and not param.has_default:
            findings.append(
                Finding(
                    param.name,
                    f'parameter "{param.name}" is required, but {event_name} '
                    f"has no such field (fields: {', '.join(field_names) or 'none'})",
                    f'give "{param.name}" a default, remove it, or add the field to {event_name}',
                )
            )
    for name, annotation in fields:
        receiver = by_name.get(name)
        if receiver is not None and receiver.kind is POSITIONAL_ONLY:
            receiver = None  # a positional-only name cannot receive a keyword
        if receiver is None and var_keyword is None:
            findings.append(
                Finding(
                    name,
                    f"{event_name} sends this field, and the listener has no "
                    f'parameter "{name}" and no **kwargs',
                    f"add a parameter `{name}: {rules.describe(annotation)}`, or `**kwargs: Any`",
                )
            )
            continue
        target = receiver if receiver is not None else var_keyword
        assert target is not None
        if rules.accepts(target.annotation, annotation) is False:
            shown = f"**{target.name}" if target is var_keyword else f'parameter "{name}"'
            findings.append(
                Finding(
                    name,
                    f"the field is {rules.describe(annotation)}, but {shown} is annotated "
                    f"{rules.describe(target.annotation)}, which cannot accept it",
                    f"annotate {shown} as {rules.describe(annotation)} (or wider), "
                    "or change the field's type",
                )
            )
    return findings


def misspelled_event_finding(
    params: Sequence[Param[A]], field_names: Sequence[str], rules: TypeRules[A]
) -> Finding | None:
    """The one problem of a would-be event-style listener that does not say so right.

    Such a listener falls back to kwargs style, where its event parameter is a required
    parameter that is not a field and every field has no parameter: a list of problems
    that all point away from the one mistake.
    """
    for param in params:
        if (
            param.kind is KEYWORD_ONLY
            and param.name not in field_names
            and rules.event_names(param.annotation)
        ):
            return Finding(
                None,
                f'parameter "{param.name}" is keyword-only, but the event is passed '
                "as the first positional argument",
                f'remove the "*" before "{param.name}"',
            )
    first = next((p for p in params if p.kind not in _VARIADIC), None)
    if first is None or first.name in field_names or first.kind is KEYWORD_ONLY:
        return None
    optional = rules.optional_event_names(first.annotation)
    if not optional:
        return None
    return Finding(
        None,
        f'parameter "{first.name}" is annotated {rules.describe(first.annotation)}, but an '
        "event is never None, so the listener is not recognized as taking the event",
        f"annotate it `{first.name}: {' | '.join(optional)}`",
    )
