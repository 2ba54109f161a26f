"""Two processes, one trace: ``python -c ... otel_app emitter|consumer --url URL --out DIR``.

Each process has its own OpenTelemetry SDK whose exporter writes one JSON line per
finished span to ``DIR/spans-{role}.jsonl``. The emitter traces a "request" span around
its emit; the consumer handles ``--count`` events, then stops.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend
from typed_events.otel import OpenTelemetryMiddleware


class InvoicePaid(Event, event_id="invoice_paid"):
    invoice: int


_seen: list[int] = []


@listener(InvoicePaid)
async def mark_paid(event: InvoicePaid) -> None:
    with trace.get_tracer("otel_app").start_as_current_span("UPDATE invoices"):
        _seen.append(event.invoice)


def _one_line(span: ReadableSpan) -> str:
    return json.dumps(json.loads(span.to_json())) + "\n"


def _provider(out: Path, role: str) -> TracerProvider:
    provider = TracerProvider()
    stream = (out / f"spans-{role}.jsonl").open("a")
    provider.add_span_processor(
        SimpleSpanProcessor(ConsoleSpanExporter(out=stream, formatter=_one_line))
    )
    trace.set_tracer_provider(provider)  # the middleware's default, and the listener's
    return provider


async def emitter(args: argparse.Namespace) -> int:
    backend = RedisStreamsBackend(args.url, service="billing", consume=False)
    bus = EventBus(events=[InvoicePaid], backend=backend, middleware=[OpenTelemetryMiddleware()])
    async with bus:
        with trace.get_tracer("otel_app").start_as_current_span("POST /invoices/pay"):
            for invoice in range(args.count):
                await bus.emit_async(InvoicePaid(invoice=invoice))
    return 0


async def consumer(args: argparse.Namespace) -> int:
    backend = RedisStreamsBackend(args.url, service="billing", claim_idle=2.0)
    bus = EventBus([mark_paid], backend=backend, middleware=[OpenTelemetryMiddleware()])
    async with bus:
        (Path(args.out) / "ready").write_text("")
        while len(_seen) < args.count:  # noqa: ASYNC110  # the listener appends
            await anyio.sleep(0.01)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["emitter", "consumer"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--loop", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    provider = _provider(Path(args.out), args.role)
    run = emitter if args.role == "emitter" else consumer
    try:
        return anyio.run(run, args, backend=args.loop)
    finally:
        provider.shutdown()


if __name__ == "__main__":
    sys.exit(main())
