"""A producer with another version of ``user_signed_up``, run as its own process.

Version 1 (``name``) is the class an older producer still runs; version 3 (``full_name``
and ``locale``) is one a newer producer already runs. Each emits one event to Redis and
exits.
"""

from __future__ import annotations

import argparse
import sys

import anyio

from typed_events import Event, EventBus
from typed_events.backends.redis import RedisStreamsBackend


class SignedUpV1(Event, event_id="user_signed_up"):
    name: str


class SignedUpV3(Event, event_id="user_signed_up", version=3, min_version=3):
    full_name: str
    locale: str


async def produce(url: str, version: int, name: str) -> int:
    event: Event = (
        SignedUpV1(name=name) if version == 1 else SignedUpV3(full_name=name, locale="fr")
    )
    backend = RedisStreamsBackend(url, service="old-signup", consume=False)
    async with EventBus(events=[type(event)], backend=backend) as bus:
        bus.emit(event)
    report = bus.shutdown_report
    return 0 if report is not None and report.clean else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--version", type=int, choices=[1, 3], required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    return anyio.run(produce, args.url, args.version, args.name, backend="asyncio")


if __name__ == "__main__":
    sys.exit(main())
