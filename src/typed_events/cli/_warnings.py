"""The warnings of ``typed-events check``: what works today but surprises later.

- an event no listener receives;
- a subclass of a received event that no listener receives (it has an id of its own,
  so the listeners of its base never see it);
- a field of a received event that one listener could change under another (a list,
  dict or set; a nested model that is not frozen), with the immutable spelling.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Mapping, Sequence

from typed_events.cli._mutability import Mutability, MutablePart, mutable_parts
from typed_events.cli._output import Finding
from typed_events.events import Event

__all__ = ["mutable_field_findings", "subclass_findings", "unhandled_finding"]


def unhandled_finding(event_class: type[Event]) -> Finding:
    """An event of the app that no listener receives."""
    return Finding(
        "warning",
        "event without listener",
        f"{event_class.__qualname__} has no listener in this app",
        "subscribe one with @listener(...), or ignore this if another service consumes it",
        _location(event_class),
        event_id=event_class.event_id,
    )


def subclass_findings(
    received: Iterable[type[Event]], listeners_of: Mapping[str, Sequence[str]]
) -> list[Finding]:
    """Subclasses (at any depth, defined anywhere) of ``received`` events that no listener gets.

    :param received: the event classes some listener subscribes to.
    :param listeners_of: listener names by the event id they subscribe to.
    """
    findings: list[Finding] = []
    reported: set[type[Event]] = set()
    for base in received:
        pending = list(base.__subclasses__())
        while pending:
            subclass = pending.pop(0)
            if subclass.event_id in listeners_of or subclass in reported:
                continue  # a received subclass is a base of its own, checked in its turn
            reported.add(subclass)
            pending.extend(subclass.__subclasses__())
            names = ", ".join(listeners_of.get(base.event_id, ()))
            findings.append(
                Finding(
                    "warning",
                    "subclass without listener",
                    f"{subclass.__qualname__} subclasses {base.__qualname__} but has an id of "
                    f'its own: the listeners of "{base.event_id}" ({names}) never receive it, '
                    "and it has no listener",
                    f"subscribe a listener to it, e.g. @listener({base.__qualname__}, "
                    f"{subclass.__qualname__}), or emit {base.__qualname__} itself",
                    _location(subclass),
                    event_id=subclass.event_id,
                )
            )
    return findings


def mutable_field_findings(event_class: type[Event]) -> list[Finding]:
    """The fields of ``event_class`` that a listener could change under another one."""
    return [_mutable_finding(event_class, part) for part in mutable_parts(event_class)]


def _mutable_finding(event_class: type[Event], part: MutablePart) -> Finding:
    changeable = "a listener can change it under the other listeners"
    if part.kind is Mutability.MODEL:
        message = f"{part.found} is a model that is not frozen: {changeable}"
        fix = f"add `model_config = ConfigDict(frozen=True)` to {part.found}"
    elif part.kind is Mutability.DATACLASS:
        message = f"{part.found} is a dataclass that is not frozen: {changeable}"
        fix = f"declare {part.found} with @dataclass(frozen=True)"
    else:
        what = "is mutable" if part.kind is Mutability.CONTAINER else "holds mutable containers"
        message = f"{part.found} {what}: {changeable} (the event is frozen, not what it holds)"
        fix = f"declare it `{part.name}: {part.spelling}`"
        if part.owner is not event_class:
            fix += f" in {part.owner.__qualname__}"
        if "Mapping[" in part.spelling:
            fix += " (Mapping from collections.abc)"
    return Finding(
        "warning",
        "mutable field",
        message,
        fix,
        _location(part.owner, part.name),
        event_id=event_class.event_id,
        field=part.path,
    )


def _location(cls: type, field: str | None = None) -> str:
    """``file:line`` of ``cls`` (of its ``field``'s line, if found); empty if unknown."""
    try:
        lines, first = inspect.getsourcelines(cls)
        path = inspect.getsourcefile(cls)
    except (OSError, TypeError):
        return ""
    line = first
    if field is not None:
        declaration = re.compile(rf"^\s+{re.escape(field)}\s*:")
        line += next((i for i, text in enumerate(lines) if declaration.match(text)), 0)
    return f"{path}:{line}"
