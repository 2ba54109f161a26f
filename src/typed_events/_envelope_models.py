"""What reading an envelope checks: the Pydantic model around an event class's ``data``,
and the attribute checks :mod:`typed_events.envelope` shares between its two decode paths."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic

from typed_events.events import Event

__all__ = [
    "EnvelopeModel",
    "describe",
    "envelope_model",
    "is_json_content_type",
    "non_empty_string",
]


class EnvelopeModel(pydantic.BaseModel):
    """An envelope's ``time`` and ``data``; a subclass per event class types ``data``."""

    # Every other attribute lands in __pydantic_extra__, as parsed JSON values.
    model_config = pydantic.ConfigDict(extra="allow")

    time: datetime | None = None
    data: Any


# The wrapper model is cached on the event class itself (not in a module dict), so
# classes defined and dropped by tests can still be garbage collected.
_CACHE_ATTRIBUTE = "__typed_events_envelope_model__"


def envelope_model(event_class: type[Event]) -> type[EnvelopeModel]:
    model: type[EnvelopeModel] | None = event_class.__dict__.get(_CACHE_ATTRIBUTE)
    if model is None:
        model = pydantic.create_model(
            f"Envelope[{event_class.__qualname__}]",
            __base__=EnvelopeModel,
            data=(event_class, ...),
        )
        type.__setattr__(event_class, _CACHE_ATTRIBUTE, model)
    return model


def describe(exc: pydantic.ValidationError) -> str:
    parts: list[str] = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']} (got {error.get('input')!r})")
    return "; ".join(parts)


def non_empty_string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def is_json_content_type(value: object) -> bool:
    if not isinstance(value, str):
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type in {"application/json", "text/json"} or media_type.endswith("+json")
