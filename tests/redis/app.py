"""The app the multi-process Redis tests run: ``python -m tests.redis.app worker|emitter``.

A worker runs two listeners on ``Numbered`` events and appends one line per call,
``<listener> <n> <cloudevents id>``, to its own file with ``os.write`` (in the kernel
before the message is acknowledged, so a ``kill -9`` loses no record of a call).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

import anyio

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend, current_delivery


class Numbered(Event, event_id="numbered"):
    n: int


class _Output:
    fd: int = -1
    delay: float = 0.0


async def _record(name: str, n: int) -> None:
    if _Output.delay:
        await anyio.sleep(_Output.delay)
    delivery = current_delivery()
    assert delivery is not None
    os.write(_Output.fd, f"{name} {n} {delivery.id}\n".encode())


@listener(Numbered)
async def record_a(event: Numbered) -> None:
    await _record("a", event.n)


@listener(Numbered)
async def record_b(event: Numbered) -> None:
    await _record("b", event.n)


def _backend(args: argparse.Namespace, *, consume: bool) -> RedisStreamsBackend:
    return RedisStreamsBackend(
        args.url,
        service="numbers",
        claim_idle=args.claim_idle,
        batch_size=args.batch_size,
        max_concurrency=args.concurrency,
        consume=consume,
    )


async def worker(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _Output.fd = os.open(out / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    _Output.delay = args.delay
    backend = _backend(args, consume=True)
    bus = EventBus([record_a, record_b], backend=backend)
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async with bus:
            (out / f"ready-{os.getpid()}").write_text(backend.consumer_name)
            async for _ in signals:
                break
    return 0 if bus.shutdown_report is not None and bus.shutdown_report.clean else 1


async def emitter(args: argparse.Namespace) -> int:
    backend = _backend(args, consume=False)
    bus = EventBus(events=[Numbered], backend=backend)
    async with bus:
        for n in range(args.count):
            bus.emit(Numbered(n=n))
            if n % 1000 == 999:
                await backend.flush()  # stay under max_pending
    report = bus.shutdown_report
    print(report, flush=True)
    return 0 if report is not None and report.clean else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["worker", "emitter"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", default=".")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--claim-idle", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--loop", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args(argv)
    run = worker if args.role == "worker" else emitter
    return anyio.run(run, args, backend=args.loop)


if __name__ == "__main__":
    sys.exit(main())
