"""The app the partition tests run: ``python -m tests.redis.partition_app worker|emitter``.

``Step`` events carry a key and a per-key sequence number. A worker runs one ordered and
one unordered listener and appends one line per call to its own file with ``os.write``
(in the kernel before the message is acknowledged, so a ``kill -9`` loses no record):
``<o|u> <key> <seq> <cloudevents id> <partition> <pid> <start ns> <end ns>`` with
``time.monotonic_ns()`` (one clock for every process on the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import anyio

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend, current_delivery


class Step(Event, event_id="step", partition_key="key"):
    key: str
    seq: int


class _Output:
    fd: int = -1
    delay: float = 0.0


async def _record(kind: str, event: Step) -> None:
    start = time.monotonic_ns()
    if _Output.delay:
        await anyio.sleep(_Output.delay)
    delivery = current_delivery()
    assert delivery is not None
    line = (
        f"{kind} {event.key} {event.seq} {delivery.id} {delivery.partition} {os.getpid()} "
        f"{start} {time.monotonic_ns()}\n"
    )
    os.write(_Output.fd, line.encode())


@listener(Step, ordered=True)
async def in_order(event: Step) -> None:
    await _record("o", event)


@listener(Step)
async def anywhere(event: Step) -> None:
    await _record("u", event)


def _backend(args: argparse.Namespace, *, consume: bool) -> RedisStreamsBackend:
    return RedisStreamsBackend(
        args.url,
        service="steps",
        partitions=args.partitions,
        claim_idle=args.claim_idle,
        consume=consume,
    )


async def worker(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _Output.fd = os.open(out / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    _Output.delay = args.delay
    backend = _backend(args, consume=True)
    bus = EventBus([in_order, anywhere], backend=backend)
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async with bus:
            (out / f"ready-{os.getpid()}").write_text(backend.consumer_name)
            async for _ in signals:
                break
    return 0 if bus.shutdown_report is not None and bus.shutdown_report.clean else 1


async def emitter(args: argparse.Namespace) -> int:
    """Emit ``count`` steps over ``keys`` keys, keys interleaved at random, each key's
    sequence numbers in order; ``rate`` > 0 paces the emits (events per second). SIGTERM
    stops emitting early; either way what was emitted per key goes to ``emitted.json``."""
    backend = _backend(args, consume=False)
    bus = EventBus(events=[Step], backend=backend)
    shuffle = random.Random(args.shuffle)
    per_key = args.count // args.keys
    order = [k for k in range(args.keys) for _ in range(per_key)]
    shuffle.shuffle(order)
    next_seq = [0] * args.keys
    if args.acked:
        return await _emit_acknowledged(args, bus, order)
    async with bus:
        with anyio.open_signal_receiver(signal.SIGTERM) as signals:
            async with anyio.create_task_group() as tasks:

                async def stop_on_signal() -> None:
                    async for _ in signals:
                        tasks.cancel_scope.cancel()

                tasks.start_soon(stop_on_signal)
                for i, k in enumerate(order):
                    bus.emit(Step(key=f"key-{k}", seq=next_seq[k]))
                    next_seq[k] += 1
                    if args.rate:
                        await anyio.sleep(1 / args.rate)
                    elif i % 1000 == 999:
                        await backend.flush()  # stay under max_pending
                tasks.cancel_scope.cancel()
    emitted = {f"key-{k}": n for k, n in enumerate(next_seq)}
    (Path(args.out) / "emitted.json").write_text(json.dumps(emitted))
    report = bus.shutdown_report
    print(report, flush=True)
    return 0 if report is not None and report.clean else 1


async def _emit_acknowledged(args: argparse.Namespace, bus: EventBus, order: list[int]) -> int:
    """``--acked N``: ``emit_async`` from N tasks at once, each acknowledged emit appended
    to ``acked.log`` as ``<key> <seq> <monotonic ns>`` once it returned (in the kernel at
    once, so the test knows exactly which emits were acknowledged)."""
    fd = os.open(Path(args.out) / "acked.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    next_seq = [0] * args.keys
    steps = []
    for k in order:
        steps.append(Step(key=f"key-{k}", seq=next_seq[k]))
        next_seq[k] += 1
    queue = iter(steps)

    async def send() -> None:
        for step in queue:
            await bus.emit_async(step)
            os.write(fd, f"{step.key} {step.seq} {time.monotonic_ns()}\n".encode())
            if args.rate:
                await anyio.sleep(args.acked / args.rate)

    async with bus, anyio.create_task_group() as tasks:
        for _ in range(args.acked):
            tasks.start_soon(send)
    report = bus.shutdown_report
    print(report, flush=True)
    return 0 if report is not None and report.clean else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["worker", "emitter"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", default=".")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--keys", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--shuffle", type=int, default=7)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--claim-idle", type=float, default=1.0)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--acked", type=int, default=0, help="emit_async from N tasks")
    args = parser.parse_args(argv)
    run = worker if args.role == "worker" else emitter
    return anyio.run(run, args, backend=args.backend)


if __name__ == "__main__":
    sys.exit(main())
