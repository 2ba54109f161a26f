"""One Redis consumer draining a pre-filled stream: events per second and CPU per event.

Starts a private redis-server (needs the binary on PATH), writes ``--events`` events with
the backend, then times one consumer process (a no-op async listener) from its start
until Redis says the group has read and acknowledged them all, reporting wall rate and
the consumer's CPU per event (which other processes on a shared machine barely move).
``--against REF`` runs the same loop on ``src/`` of git revision ``REF`` too (exported
to a temporary directory), the two taking turns, so a change is measured beside what it
changed:

    .venv/bin/python benchmarks/redis_drain.py                      # 40,000 events, 5 runs
    .venv/bin/python benchmarks/redis_drain.py --against HEAD~3 --runs 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
STREAM = "typed-events:drain_tick"


def _role(url: str, count: int) -> None:
    """In the child: fill the stream, then drain it with one consumer; print the figures."""
    from coredis import Redis

    from typed_events import Event, EventBus, listener
    from typed_events.backends.redis import RedisStreamsBackend

    class Tick(Event, event_id="drain_tick"):
        n: int
        sent: float = 0.0
        note: str = "benchmark"

    @listener(Tick)
    async def sink(event: Tick) -> None:
        """Does nothing: the consumer's own cost is measured."""

    async def drained(admin: Redis[bytes]) -> bool:
        groups = await admin.xinfo_groups(STREAM)
        return bool(groups) and all(g[b"pending"] == 0 and g[b"lag"] == 0 for g in groups)

    async def main() -> None:
        async with Redis.from_url(url) as admin:
            await admin.delete([STREAM])
            async with EventBus([sink], backend=RedisStreamsBackend(url, service="drain")):
                pass  # creates the group, so it reads what is written next
            writer = RedisStreamsBackend(url, service="drain", consume=False)
            writer.max_pending = count + 1
            async with EventBus(events=[Tick], backend=writer) as bus:
                for n in range(count):
                    bus.emit(Tick(n=n))
                await writer.flush()
            cpu, wall = time.process_time(), time.monotonic()
            async with EventBus([sink], backend=RedisStreamsBackend(url, service="drain")):
                while not await drained(admin):  # noqa: ASYNC110  # polling Redis, not a flag
                    await anyio.sleep(0.005)
                cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        print(f"{count / wall} {cpu / count * 1e6}", flush=True)

    anyio.run(main)


def _start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
         "--save", "", "--appendonly", "no", "--logfile", "redis.log"],
    )  # fmt: skip
    for _ in range(500):
        ready = subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False
        )
        if ready.stdout.strip() == "PONG":
            return server, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.01)
    server.kill()
    raise SystemExit("redis-server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", help="a git revision to measure beside this checkout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        trees = {"this checkout": str(ROOT / "src")}
        if args.against:
            other = Path(directory) / "against"
            other.mkdir()
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", args.against, "src"],
                capture_output=True,
                check=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
            trees = {args.against: str(other / "src"), **trees}
        server, url = _start_redis(directory)
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
        try:
            for _ in range(args.runs):
                for name, src in trees.items():
                    out = subprocess.run(
                        [sys.executable, __file__, "_drain", url, str(args.events)],
                        env={**os.environ, "PYTHONPATH": src},
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout.split()
                    figures[name].append((float(out[0]), float(out[1])))
        finally:
            server.terminate()
            server.wait()
    print(f"{args.events:,} events, {args.runs} interleaved runs, median (min-max); load "
          f"{os.getloadavg()[0]:.2f}\n")  # fmt: skip
    print("| code | events/s | µs of consumer CPU per event |\n|---|---:|---:|")
    for name, runs in figures.items():
        rates, cpus = [r for r, _ in runs], [c for _, c in runs]
        print(
            f"| {name} | {statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"
            f" | {statistics.median(cpus):.1f} ({min(cpus):.1f}-{max(cpus):.1f}) |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_drain":
        _role(sys.argv[2], int(sys.argv[3]))
    else:
        main()
