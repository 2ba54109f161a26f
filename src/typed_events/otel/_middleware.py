"""OpenTelemetryMiddleware: messaging spans and metrics for every emit and listener call."""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import INVALID_SPAN, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from typed_events.backends.memory import SimpleEventEmitter
from typed_events.envelope import Outgoing, outgoing
from typed_events.events import Event
from typed_events.listeners import Listener
from typed_events.middleware import CallNext, EmitNext, Middleware, current_attempt
from typed_events.otel._propagation import extract, inject

if TYPE_CHECKING:
    from typed_events.backends.base import BaseEventEmitterBackend
    from typed_events.backends.redis import Backlog, Delivery
    from typed_events.bus import EventBus


def _redis() -> tuple[Callable[[], Delivery | None], Callable[[object], Backlog | None]]:
    """Where a Redis delivery and a Redis backend's backlog are read (without the redis
    extra there are neither)."""
    try:
        from typed_events.backends.redis import RedisStreamsBackend, current_delivery
    except ImportError:  # pragma: no cover - the test environment has coredis
        return (lambda: None), (lambda _backend: None)

    def backlog(backend: object) -> Backlog | None:
        return backend.backlog if isinstance(backend, RedisStreamsBackend) else None

    return current_delivery, backlog


current_delivery, redis_backlog = _redis()


__all__ = ["OpenTelemetryMiddleware"]

# The messaging semantic conventions (registry: messaging.*, error.type).
SYSTEM = "messaging.system"
DESTINATION = "messaging.destination.name"
OPERATION_TYPE = "messaging.operation.type"
OPERATION_NAME = "messaging.operation.name"
MESSAGE_ID = "messaging.message.id"
CONSUMER_GROUP = "messaging.consumer.group.name"
ERROR_TYPE = "error.type"
# Ours: who handled it, and which attempt of the call this span is.
LISTENER = "typed_events.listener"
ATTEMPT = "typed_events.attempt"
RETRY_EVENT = "typed_events.retry"
RETRY_DELAY = "typed_events.retry.delay"

IN_MEMORY_SYSTEM = "typed_events"
_SCOPE = "typed_events"
_SCHEMA_URL = "https://opentelemetry.io/schemas/1.30.0"
# The semantic conventions' advice for messaging durations, in seconds.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

_Attributes = dict[str, AttributeValue]


class OpenTelemetryMiddleware(Middleware):
    """Traces and metrics per the OpenTelemetry messaging semantic conventions.

    Each emit gets a ``create {event_id}`` PRODUCER span, each listener call attempt a
    ``process {event_id}`` CONSUMER span: in memory a child of the emit's span; through
    Redis the emit's context travels in the envelope's ``traceparent``/``tracestate``
    (the global propagator's format) and the consumer's span continues that trace in
    whichever process runs the listener. Metrics: ``messaging.client.sent.messages``,
    ``messaging.client.consumed.messages`` and ``messaging.process.duration``.

    ```python
    bus = EventBus(listeners=[...], middleware=[OpenTelemetryMiddleware()])
    ```

    :param tracer_provider: where the spans go; default: the global one.
    :param meter_provider: where the metrics go; default: the global one.
    """

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        from typed_events import __version__

        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider, _SCHEMA_URL)
        # A no-op provider makes no spans: then none are started at all (metrics still
        # are, unless the meter is a no-op too: then the hooks only hand on).
        self._no_op = isinstance(self._tracer, trace.NoOpTracer)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider, _SCHEMA_URL)
        self._idle = self._no_op and isinstance(meter, metrics.NoOpMeter)
        self._sent = meter.create_counter(
            "messaging.client.sent.messages",
            unit="{message}",
            description="Number of messages producer attempted to send to the broker.",
        )
        self._consumed = meter.create_counter(
            "messaging.client.consumed.messages",
            unit="{message}",
            description="Number of messages that were delivered to the application.",
        )
        self._duration = meter.create_histogram(
            "messaging.process.duration",
            unit="s",
            description="Duration of processing operation.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        for name, unit, description, observe in (
            (
                "typed_events.events.pending",
                "{event}",
                "Events accepted, not yet handled by every listener (in memory).",
                self._observe_pending,
            ),
            (
                "typed_events.consumer.lag",
                "{message}",
                "Messages not yet delivered to a consumer group (Redis 7 and later).",
                self._observe_lag,
            ),
            (
                "typed_events.consumer.pending",
                "{message}",
                "Messages delivered to a consumer group and not acknowledged yet.",
                self._observe_unacknowledged,
            ),
            (
                "typed_events.dead_letter.messages",
                "{message}",
                "Messages in the dead-letter stream.",
                self._observe_dead_letters,
            ),
        ):
            meter.create_observable_gauge(name, [observe], unit, description)
        self._buses: list[weakref.ref[EventBus]] = []
        # Built once per event id (and listener): an emit or a call copies no dict.
        self._create: dict[str, _Known] = {}
        self._process: dict[tuple[str, str], _Known] = {}

    def observe(self, bus: EventBus) -> EventBus:
        """Report ``bus``'s gauges: pending events in memory; consumer-group lag, pending
        messages and dead letters through Redis (as last sampled by its heartbeat).

        :return: the bus, so ``bus = otel.observe(EventBus(..., middleware=[otel]))``.
        """
        self._buses.append(weakref.ref(bus))
        return bus

    def _backends(self) -> Iterator[BaseEventEmitterBackend]:
        for ref in self._buses:
            bus = ref()
            if bus is not None and bus.running:
                yield bus.backend

    def _observe_pending(self, _options: CallbackOptions) -> Iterator[Observation]:
        for backend in self._backends():
            if isinstance(backend, SimpleEventEmitter):
                yield Observation(backend.pending, {SYSTEM: IN_MEMORY_SYSTEM})

    def _observe_lag(self, _options: CallbackOptions) -> Iterator[Observation]:
        for backlog in self._backlogs():
            for group in backlog.groups:
                if group.lag is not None:
                    yield Observation(group.lag, _group_attributes(group.stream, group.group))

    def _observe_unacknowledged(self, _options: CallbackOptions) -> Iterator[Observation]:
        for backlog in self._backlogs():
            for group in backlog.groups:
                yield Observation(group.pending, _group_attributes(group.stream, group.group))

    def _observe_dead_letters(self, _options: CallbackOptions) -> Iterator[Observation]:
        for backlog in self._backlogs():
            attributes = {SYSTEM: "redis", DESTINATION: backlog.dead_letter_stream}
            yield Observation(backlog.dead_letters, attributes)

    def _backlogs(self) -> Iterator[Backlog]:
        for backend in self._backends():
            backlog = redis_backlog(backend)
            if backlog is not None:
                yield backlog

    # -- emitting -------------------------------------------------------------------------

    def on_emit(self, event: Event, call_next: EmitNext) -> None:
        """A ``create`` span around the backend's emit; its context goes into the envelope."""
        if self._idle:
            call_next(event)
            return
        known = self._create.get(event.event_id)
        if known is None:
            known = self._create[event.event_id] = _create_attributes(event.event_id)
        name, attributes, created = known
        if self._no_op:
            with outgoing() as message:
                self._count_sent(call_next, event, created, message)
            return
        span = self._tracer.start_span(name, kind=SpanKind.PRODUCER, attributes=attributes)
        traced = span.get_span_context().is_valid  # False with a no-op tracer
        with _current(span) if traced else _UNTRACED, outgoing() as message:
            if traced:
                inject(message.extensions)
            try:
                sent = self._count_sent(call_next, event, created, message)
            except BaseException as exc:
                _failed(span, exc, _error_type(exc))
                raise
            if message.id is not None and traced:  # a durable backend wrote it: where, and id
                span.set_attributes({**sent, MESSAGE_ID: message.id})

    def _count_sent(
        self, call_next: EmitNext, event: Event, created: _Attributes, message: Outgoing
    ) -> _Attributes:
        try:
            call_next(event)
        except BaseException as exc:
            error = {ERROR_TYPE: _error_type(exc)}
            self._sent.add(1, {**_sent_attributes(created, message), **error})
            raise
        sent = _sent_attributes(created, message)
        self._sent.add(1, sent)
        return sent

    # -- calling listeners ---------------------------------------------------------------

    async def on_call(self, event: Event, listener: Listener[..., Any], call_next: CallNext) -> Any:
        """A ``process`` span around one attempt; metrics for the call and its duration."""
        if self._idle:
            return await call_next(event, listener)
        delivery = current_delivery()
        parent: Context | None = None
        if delivery is None:
            key = (event.event_id, listener.name)
            known = self._process.get(key)
            if known is None:
                known = self._process[key] = _process_attributes(
                    IN_MEMORY_SYSTEM, event.event_id, event.event_id, listener.name
                )
            name, attributes, measured = known
        else:
            name, attributes, measured = _process_attributes(
                "redis", event.event_id, delivery.stream, listener.name, delivery.group
            )
            attributes[MESSAGE_ID] = delivery.id
            parent = extract(delivery.extensions)
        attempt = current_attempt()
        if attempt == 1:  # once per delivery of the message to this listener
            self._consumed.add(1, measured)
        else:
            attributes = {**attributes, ATTEMPT: attempt}
        span = (
            INVALID_SPAN
            if self._no_op
            else self._tracer.start_span(name, parent, SpanKind.CONSUMER, attributes)
        )
        started = time.perf_counter()
        with _current(span) if span.get_span_context().is_valid else _UNTRACED:
            try:
                result = await call_next(event, listener)
            except BaseException as exc:
                error = _error_type(exc)
                _failed(span, exc, error)
                if attempt <= listener.options.retries:
                    delay = listener.options.backoff_before(attempt)
                    span.add_event(RETRY_EVENT, {ATTEMPT: attempt + 1, RETRY_DELAY: delay})
                self._duration.record(
                    time.perf_counter() - started, {**measured, ERROR_TYPE: error}
                )
                raise
        self._duration.record(time.perf_counter() - started, measured)
        return result


_UNTRACED = contextlib.nullcontext()  # reusable: what a no-op tracer's span gets


def _current(span: trace.Span) -> contextlib.AbstractContextManager[trace.Span]:
    """``span`` as the current span; ended on exit (the hooks record errors themselves)."""
    return trace.use_span(
        span, end_on_exit=True, record_exception=False, set_status_on_exception=False
    )


def _group_attributes(stream: str, group: str) -> _Attributes:
    return {SYSTEM: "redis", DESTINATION: stream, CONSUMER_GROUP: group}


# Span attributes, and the low-cardinality ones metrics carry (never an id or an attempt).
_Known = tuple[str, _Attributes, _Attributes]  # span name, span attributes, metric attributes


def _create_attributes(event_id: str) -> _Known:
    metric: _Attributes = {
        SYSTEM: IN_MEMORY_SYSTEM,
        DESTINATION: event_id,
        OPERATION_NAME: "create",
    }
    span: _Attributes = {**metric, OPERATION_TYPE: "create"}
    return f"create {event_id}", span, metric


def _sent_attributes(created: _Attributes, message: Outgoing) -> _Attributes:
    """The emit's metric attributes: the backend's system and destination, if it said."""
    if message.system is None:
        return created
    return {
        SYSTEM: message.system,
        DESTINATION: message.destination or created[DESTINATION],
        OPERATION_NAME: "create",
    }


def _process_attributes(
    system: str, event_id: str, destination: str, listener: str, group: str | None = None
) -> _Known:
    metric: _Attributes = {SYSTEM: system, DESTINATION: destination, OPERATION_NAME: "process"}
    if group is not None:
        metric[CONSUMER_GROUP] = group
    span: _Attributes = {**metric, OPERATION_TYPE: "process", LISTENER: listener}
    return f"process {event_id}", span, metric


def _error_type(exc: BaseException) -> str:
    """The exception's class, qualified by its module unless it is a builtin."""
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _failed(span: trace.Span, exc: BaseException, error: str) -> None:
    span.set_attribute(ERROR_TYPE, error)
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__qualname__}: {exc}"))
