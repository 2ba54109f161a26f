"""Rejected event payloads in a Litestar app: the 400 of ``client_payload()`` and the log line.

Both need to know *which* model a :class:`pydantic.ValidationError` is about. The error
carries only the class's name (``exc.title``), which a handler's own model can share
with an event, and two events can share; so the class is found by identity, in the
frames the error went through: pydantic's ``BaseModel.__init__`` (or ``model_validate``)
holds the instance (or the class), and the bus's validation holds the event it built.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from types import CodeType
from typing import Any

from litestar.exceptions import ValidationException
from pydantic import BaseModel, ValidationError

from typed_events.bus import EventBus
from typed_events.errors import UnknownEventError
from typed_events.events import Event

__all__ = ["client_payload", "log_rejected_payload", "validated_model"]

logger = logging.getLogger("typed_events.litestar")


def _classmethod_code(name: str) -> CodeType:
    method: Any = vars(BaseModel)[name]
    code: CodeType = method.__func__.__code__
    return code


# Frames whose first argument is the model being validated: an instance or the class.
_MODEL_FRAMES: frozenset[CodeType] = frozenset(
    {
        BaseModel.__init__.__code__,
        _classmethod_code("model_validate"),
        _classmethod_code("model_validate_json"),
        _classmethod_code("model_validate_strings"),
    }
)
# The bus's fast path validates without BaseModel.__init__: its frame holds the event.
_BUS_FRAME: CodeType = EventBus._validated.__code__  # pyright: ignore[reportPrivateUsage]  # read, never called: the frame to look for


def validated_model(exc: ValidationError) -> type[BaseModel] | None:
    """The model class whose validation raised ``exc``, or None if no frame shows it.

    The innermost validating frame wins: it is the validation that failed.
    """
    found: type[BaseModel] | None = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        code = frame.f_code
        if code in _MODEL_FRAMES:
            first = frame.f_locals.get(code.co_varnames[0])
            model = first if isinstance(first, type) else type(first)
            if issubclass(model, BaseModel):
                found = model
        elif code is _BUS_FRAME:
            found = _event_in_bus_frame(frame.f_locals) or found
        tb = tb.tb_next
    return found


def _event_in_bus_frame(local: Mapping[str, Any]) -> type[Event] | None:
    bus, ref = local.get("self"), local.get("event")
    if isinstance(ref, type) and issubclass(ref, Event):
        return ref
    if isinstance(ref, str) and isinstance(bus, EventBus):
        return bus.registry.get(ref)
    return None


def _event_of(exc: ValidationError) -> type[Event] | None:
    model = validated_model(exc)
    return model if model is not None and issubclass(model, Event) else None


@contextmanager
def client_payload() -> Generator[None, None, None]:
    """Answer 400 instead of 500 when an event built from request data does not validate.

    ```python
    with client_payload():
        request.app.emit("password_changed", **data)
    ```

    Turns a :class:`pydantic.ValidationError` of an event model raised in the block
    into Litestar's ``ValidationException`` (400) with the validation errors in
    ``extra``. A ``ValidationError`` of any other model passes through unchanged. It
    does not apply to websocket handlers: Litestar closes the socket with 4500 either
    way (the reason then carries the detail).
    """
    try:
        yield
    except ValidationError as exc:
        event_class = _event_of(exc)
        if event_class is None:
            raise
        raise ValidationException(
            detail=(
                f'the request\'s data does not fit the event "{event_class.event_id}" '
                f"({event_class.__qualname__})"
            ),
            extra=json.loads(exc.json(include_url=False)),
        ) from exc


async def log_rejected_payload(exc: Exception, scope: Mapping[str, object]) -> None:
    """Litestar ``after_exception`` hook: one clear log line for a rejected emit.

    ``scope`` is the ASGI scope (http or websocket), read as a plain mapping.
    """
    where = f"{scope.get('method', scope['type'])} {scope.get('path', '')}".strip()
    if isinstance(exc, UnknownEventError):
        logger.error("%s: the handler emitted an unknown event (500): %s", where, exc)
        return
    if not isinstance(exc, ValidationError):
        return
    app = scope.get("litestar_app")
    known: tuple[type[Event], ...] = getattr(
        getattr(app, "event_emitter", None), "event_classes", ()
    )
    event_class = _event_of(exc)
    if event_class is None or all(event_class is not c for c in known):
        return  # not one of the app's event models: Litestar's own handling applies
    errors = "; ".join(
        f"{'.'.join(map(str, error['loc'])) or '(payload)'}: {error['msg']} "
        f"(got {error.get('input')!r})"
        for error in exc.errors(include_url=False)
    )
    if scope["type"] == "http":
        answer = "answered 500"
        hint = (
            "if these values come from the request, emit inside `with client_payload():` "
            "to answer 400"
        )
    else:
        answer = "closed the websocket (4500)"
        hint = (
            "if these values come from the client, catch pydantic.ValidationError around "
            "the emit and answer on the socket (client_payload() does not apply to websockets)"
        )
    logger.error(
        '%s: the handler emitted an invalid "%s" payload (%s), %s: %s. Fix the emitting code; %s.',
        where,
        event_class.event_id,
        event_class.__qualname__,
        answer,
        errors,
        hint,
    )
