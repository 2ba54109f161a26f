"""End-to-end throughput of the Redis Streams backend, next to the in-memory emitter.

Starts a private redis-server (needs the binary on PATH), then for each consumer count
starts that many consumer processes (one no-op async listener each, one consumer group
in total), lets one emitter process emit N events, and measures from the first emit
until Redis says the group has read and acknowledged all N. The in-memory figure is the
same listener on ``SimpleEventEmitter`` in one process, from first emit to drained.

    .venv/bin/python benchmarks/redis_bench.py                  # 20,000 events, 3 runs
    .venv/bin/python benchmarks/redis_bench.py --events 5000 --runs 1 --consumers 1
    .venv/bin/python benchmarks/redis_bench.py --json results/redis.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio
from coredis.exceptions import RedisError, ResponseError

from typed_events import Event, EventBus, SimpleEventEmitter, listener
from typed_events.backends.redis import RedisStreamsBackend
from typed_events.backends.redis._client import Client, open_client

STREAM = "typed-events:tick"


class Tick(Event, event_id="tick"):
    n: int
    note: str = "benchmark"


@listener(Tick)
async def sink(event: Tick) -> None:
    """The listener under test does nothing: we measure the machinery."""


GROUP = f"bench:{sink.name}"


# -- roles run in child processes ---------------------------------------------------------


async def consume(url: str) -> None:
    """Consume until stdin closes."""
    async with EventBus([sink], backend=RedisStreamsBackend(url, service="bench")):
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


async def emit(url: str, count: int) -> None:
    """Wait for a line on stdin, then emit ``count`` events; print timings as JSON."""
    backend = RedisStreamsBackend(url, service="bench", consume=False, max_pending=count + 1)
    async with EventBus(events=[Tick], backend=backend) as bus:
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        started = time.time()
        for n in range(count):
            bus.emit(Tick(n=n))
        emitted = time.time()
        await backend.flush()
        written = time.time()
    print(json.dumps({"started": started, "emitted": emitted, "written": written}), flush=True)


async def in_memory(count: int) -> None:
    """Print the in-memory events/s for ``count`` events."""
    bus = EventBus([sink], backend=SimpleEventEmitter(max_pending=count + 1))
    async with bus:
        started = time.perf_counter()
        for n in range(count):
            bus.emit(Tick(n=n))
    print(json.dumps({"seconds": time.perf_counter() - started}), flush=True)


# -- the driver ---------------------------------------------------------------------------


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        raise RuntimeError(f"child did not start: {line!r}")


def start_redis(directory: Path, appendfsync: str) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH: apt-get install redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    persistence = ["--appendonly", "no"] if appendfsync == "off" else [
        "--appendonly", "yes", "--appendfsync", appendfsync
    ]  # fmt: skip
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--logfile", "redis.log", *persistence],
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    anyio.run(ping_until_up, url)
    return server, url


async def ping_until_up(url: str) -> None:
    async with open_client(url) as client:
        for _ in range(500):
            try:
                await client.ping()
                return
            except (RedisError, OSError):
                await anyio.sleep(0.01)


async def delete_stream(url: str) -> None:
    async with open_client(url) as client:
        await client.delete([STREAM])


async def server_version(url: str) -> str:
    async with open_client(url) as client:
        info: Any = await client.info("server")
        return str(info["redis_version"])


async def wait_acknowledged(url: str, count: int) -> float:
    """The time at which Redis says all ``count`` events are read and acknowledged."""
    async with open_client(url) as client:
        while not await all_acknowledged(client, count):  # noqa: ASYNC110  # Redis's state
            await anyio.sleep(0.002)
    return time.time()


def redis_run(url: str, consumers: int, count: int) -> dict[str, float]:
    anyio.run(delete_stream, url)
    workers = [child("_consume", url) for _ in range(consumers)]
    emitter: subprocess.Popen[str] | None = None
    try:
        for worker in workers:
            wait_ready(worker)
        emitter = child("_emit", url, str(count))
        wait_ready(emitter)
        assert emitter.stdin is not None
        emitter.stdin.write("go\n")
        emitter.stdin.flush()
        done = anyio.run(wait_acknowledged, url, count)
        out, _ = emitter.communicate(timeout=60)
        times = json.loads(out.strip().splitlines()[-1])
    finally:
        for process in [*workers, emitter]:
            if process is not None and process.poll() is None:
                if process.stdin is not None:
                    process.stdin.close()  # a consumer stops when its stdin closes
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    return {
        "events_per_s": count / (done - times["started"]),
        "written_per_s": count / (times["written"] - times["started"]),
        "emit_us": (times["emitted"] - times["started"]) / count * 1e6,
    }


async def all_acknowledged(client: Client, count: int) -> bool:
    """True once all ``count`` events are in the stream, read by the group and acknowledged."""
    try:
        async with client.pipeline(transaction=False) as pipe:
            length = pipe.xlen(STREAM)
            infos = pipe.xinfo_groups(STREAM)
            newest = pipe.xrevrange(STREAM, count=1)
        groups, last = await infos, await newest
    except ResponseError:
        return False  # no stream yet
    group = next((g for g in groups if g[b"name"] == GROUP.encode()), None)
    return bool(
        await length == count
        and group is not None
        and group[b"pending"] == 0
        and last
        and group[b"last-delivered-id"] == last[0].identifier
    )


def memory_run(count: int) -> dict[str, float]:
    process = child("_memory", str(count))
    out, _ = process.communicate(timeout=120)
    return {"events_per_s": count / json.loads(out)["seconds"]}


def median(runs: list[dict[str, float]], key: str) -> tuple[float, float, float]:
    values = [run[key] for run in runs]
    return statistics.median(values), min(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--consumers", default="1,4", help="comma-separated process counts")
    parser.add_argument(
        "--appendfsync", choices=("off", "everysec", "always"), default="everysec",
        help="Redis persistence during the run (off: no appendonly file)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    counts = [int(c) for c in args.consumers.split(",")]
    results: dict[str, Any] = {
        "events": args.events,
        "runs": args.runs,
        "appendfsync": args.appendfsync,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "python": platform.python_version(),
        "redis_server": "",
        "coredis": metadata.version("coredis"),
        "date": time.strftime("%Y-%m-%d"),
        "memory": [],
        "redis": {str(c): [] for c in counts},
    }
    with tempfile.TemporaryDirectory() as directory:
        server, url = start_redis(Path(directory), args.appendfsync)
        try:
            results["redis_server"] = anyio.run(server_version, url)
            for _ in range(args.runs):  # interleaved, so a noisy moment hits every row
                results["memory"].append(memory_run(args.events))
                for consumers in counts:
                    results["redis"][str(consumers)].append(redis_run(url, consumers, args.events))
        finally:
            server.terminate()
            server.wait()
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def print_table(results: dict[str, Any]) -> None:
    print(
        f"{results['events']:,} events, {results['runs']} run(s), median (min-max); "
        f"{results['machine']}; Python {results['python']}; redis-server "
        f"{results['redis_server']} (appendfsync {results['appendfsync']}); "
        f"coredis {results['coredis']}\n"
    )
    print("| backend | end to end, events/s | XADD writes, events/s | emit() cost, µs |")
    print("|---|---:|---:|---:|")
    mid, low, high = median(results["memory"], "events_per_s")
    print(f"| in-memory SimpleEventEmitter | {mid:,.0f} ({low:,.0f}-{high:,.0f}) | - | - |")
    for consumers, runs in results["redis"].items():
        mid, low, high = median(runs, "events_per_s")
        written, _, _ = median(runs, "written_per_s")
        cost, _, _ = median(runs, "emit_us")
        print(
            f"| Redis Streams, {consumers} consumer process(es) | {mid:,.0f} "
            f"({low:,.0f}-{high:,.0f}) | {written:,.0f} | {cost:.1f} |"
        )


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "_consume":
        anyio.run(consume, sys.argv[2], backend="asyncio")
    elif role == "_emit":
        anyio.run(emit, sys.argv[2], int(sys.argv[3]), backend="asyncio")
    elif role == "_memory":
        anyio.run(in_memory, int(sys.argv[2]), backend="asyncio")
    else:
        main()
