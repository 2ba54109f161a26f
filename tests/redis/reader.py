"""A consumer process that reports its memory: ``python -m tests.redis.reader URL COUNT BYTES
LOOP``.

It handles ``COUNT`` ``blob`` events with ``max_read_bytes=BYTES``, then prints how far
its resident memory rose above what it was before it started (the kernel's peak,
``VmHWM``, minus ``VmRSS`` then), in bytes. ``LOOP`` is ``asyncio`` or ``trio``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend


class Blob(Event, event_id="blob"):
    data: str


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


async def _main(url: str, count: int, read_bytes: int) -> None:
    handled = 0
    done = anyio.Event()

    @listener(Blob)
    async def take(event: Blob) -> None:
        nonlocal handled
        handled += 1
        if handled == count:
            done.set()

    backend = RedisStreamsBackend(
        url, service="mem", max_message_bytes=6_000_000, max_read_bytes=read_bytes
    )
    baseline = _status_kib("VmRSS")
    async with EventBus([take], backend=backend):
        await done.wait()
    print((_status_kib("VmHWM") - baseline) * 1024, flush=True)


if __name__ == "__main__":
    anyio.run(_main, sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), backend=sys.argv[4])
