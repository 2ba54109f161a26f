"""What OpenTelemetryMiddleware costs with a no-op tracer (and meter) provider.

Buses with one no-op async listener, in one process, on asyncio: no middleware; an
empty ``on_call`` middleware (the cost of the middleware path itself); and
``OpenTelemetryMiddleware`` with no-op tracer and meter providers, with a no-op tracer
and the SDK's meter (metrics on, no exporter), with nothing configured (the API's global
proxies), and with the SDK's tracer recording every span (no exporter).

- per emit: ``bus.emit(instance)`` timed in batches of 1,000 (the listener catches up
  untimed between batches); the median batch, per emit.
- per call: emit a batch untimed, then time the drain until every call has run; the
  median batch, per call.

    .venv/bin/python benchmarks/otel_bench.py            # 20 batches of 1,000, 3 runs
    .venv/bin/python benchmarks/otel_bench.py --batches 5 --runs 1

No figure is asserted anywhere: they depend on the machine. ``benchmarks/README.md``
has the last run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NoOpTracerProvider

from typed_events import Event, EventBus, Listener, Middleware, SimpleEventEmitter, listener
from typed_events.middleware import CallNext
from typed_events.otel import OpenTelemetryMiddleware

BATCH = 1_000


class Ping(Event, event_id="ping"):
    n: int


class Empty(Middleware):
    async def on_call(self, event: Event, listener: Listener[..., Any], call_next: CallNext) -> Any:
        return await call_next(event, listener)


@listener(Ping)
async def pong(event: Ping) -> None:
    pass


def _buses() -> dict[str, Callable[[], EventBus]]:
    return {
        "no middleware": lambda: EventBus([pong], backend=_backend()),
        "empty on_call": lambda: EventBus([pong], backend=_backend(), middleware=[Empty()]),
        "otel, no-op providers": lambda: EventBus(
            [pong],
            backend=_backend(),
            middleware=[OpenTelemetryMiddleware(NoOpTracerProvider(), NoOpMeterProvider())],
        ),
        "otel, no-op tracer + SDK meter": lambda: EventBus(
            [pong],
            backend=_backend(),
            middleware=[OpenTelemetryMiddleware(NoOpTracerProvider(), MeterProvider())],
        ),
        "otel, no SDK configured": lambda: EventBus(
            [pong], backend=_backend(), middleware=[OpenTelemetryMiddleware()]
        ),
        "otel, SDK tracer (sampled)": lambda: EventBus(
            [pong], backend=_backend(), middleware=[OpenTelemetryMiddleware(_sdk_tracer())]
        ),
    }


def _sdk_tracer() -> TracerProvider:
    """The SDK recording every span, exported nowhere (what recording itself costs)."""
    return TracerProvider()


def _backend() -> SimpleEventEmitter:
    return SimpleEventEmitter(max_pending=BATCH * 2)


async def _drained(bus: EventBus, calls: int) -> None:
    while bus.stats.delivered < calls:  # the workers deliver meanwhile
        await anyio.lowlevel.checkpoint()


async def _measure(make: Callable[[], EventBus], batches: int) -> tuple[float, float]:
    events = [Ping(n=n) for n in range(BATCH)]
    emit_times: list[float] = []
    call_times: list[float] = []
    async with make() as bus:
        for _ in range(batches):
            start = time.perf_counter()
            for event in events:
                bus.emit(event)
            emit_times.append((time.perf_counter() - start) / BATCH)
            await _drained(bus, bus.stats.accepted)
            for event in events:
                bus.emit(event)
            start = time.perf_counter()
            await _drained(bus, bus.stats.accepted)
            call_times.append((time.perf_counter() - start) / BATCH)
    return statistics.median(emit_times), statistics.median(call_times)


async def main(batches: int, runs: int) -> None:
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in _buses()}
    for _ in range(runs):  # interleaved: a noisy moment hits every variant alike
        for name, make in _buses().items():
            results[name].append(await _measure(make, batches))
    base_emit = statistics.median(r[0] for r in results["no middleware"])
    base_call = statistics.median(r[1] for r in results["no middleware"])
    print(f"{'bus':32} {'per emit':>10} {'overhead':>10} {'per call':>10} {'overhead':>10}")
    for name, figures in results.items():
        emit = statistics.median(f[0] for f in figures)
        call = statistics.median(f[1] for f in figures)
        print(
            f"{name:32} {emit * 1e9:8.0f}ns {(emit - base_emit) * 1e9:+8.0f}ns "
            f"{call * 1e9:8.0f}ns {(call - base_call) * 1e9:+8.0f}ns"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    anyio.run(main, args.batches, args.runs, backend="asyncio")
