"""typed-events on Redis Streams, side by side with FastStream and a raw client floor.

Starts a private redis-server (needs the binary on PATH) and measures, in separate
processes (one consumer process, one producer process), with the runs interleaved
(every scenario once, then every scenario again) and the median of ``--runs``:

- end to end, ``--events`` events from the first emit until every consumer group of the
  stream has read and acknowledged all of them: typed-events (``EventBus`` and
  ``RedisStreamsBackend``, a no-op async listener), FastStream ``StreamSub`` and
  ``StreamSub(batch=True)`` (a no-op handler taking the Pydantic model), and the floor:
  pipelined ``XADD``, ``XREADGROUP`` and one ``XACK`` per read, no parsing, with coredis
  and with redis-py (hiredis parser); the faster client is "the floor";
- batched publish, no consumer: typed-events' sync ``emit`` for every event then
  ``flush()``, against the floor's pipelined ``XADD``;
- awaited one-at-a-time publish: ``await bus.emit_async(...)`` against FastStream's
  ``await broker.publish(...)``;
- publish-to-handle latency at a paced ``--rate`` events/s (awaited publishes, the
  first tenth not counted): typed-events against FastStream ``StreamSub`` and
  ``batch=True``; the goal compares with the better of the two.

The typed-events side uses the public API only, so it measures whichever Redis client
the backend is built on. FastStream's per-message logging is off (``logger=None``), as
typed-events logs nothing per message.

    benchmarks/.venv/bin/python benchmarks/redis_side_by_side.py          # make bench-redis
    benchmarks/.venv/bin/python benchmarks/redis_side_by_side.py --events 5000 --runs 1
    benchmarks/.venv/bin/python benchmarks/redis_side_by_side.py --json results/side.json
"""

from __future__ import annotations

import argparse
import asyncio
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
import pydantic
import redis

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend

PIPELINE = 512  # XADDs per round trip for the floor and FastStream (typed-events' writer too)
READ = 100  # entries per XREADGROUP for everyone (typed-events' default batch_size)
TE_STREAM = "typed-events:bench_tick"
FS_STREAM = "faststream-bench"
FLOOR_STREAM = "floor-bench"
PAYLOAD = json.dumps(
    {
        "specversion": "1.0",
        "id": "6f1c2b3a-0000-4000-8000-000000000000",
        "source": "/b",
        "type": "bench_tick",
        "time": "2026-01-01T12:00:00.000000Z",
        "datacontenttype": "application/json",
        "eventversion": 1,
        "data": {"n": 12345, "sent": 0.0, "note": "benchmark"},
    },
    separators=(",", ":"),
).encode()  # fmt: skip  (an envelope's size: the floor moves as many bytes, unparsed)


class Tick(Event, event_id="bench_tick"):
    n: int
    sent: float = 0.0
    note: str = "benchmark"


@listener(Tick)
async def sink(event: Tick) -> None:
    """The listener under test does nothing: we measure the machinery."""


class FsTick(pydantic.BaseModel):
    """FastStream's message: the same fields, validated by Pydantic in its handler."""

    n: int
    sent: float = 0.0
    note: str = "benchmark"


LATENCIES: list[tuple[int, float]] = []


@listener(Tick)
async def timed(event: Tick) -> None:
    """Note how long after its publish this event is handled."""
    LATENCIES.append((event.n, time.monotonic() - event.sent))


# -- roles run in child processes: consumers print "ready" and run until stdin closes ----


def ready() -> None:
    print("ready", flush=True)


async def stdin_closed() -> None:
    await anyio.to_thread.run_sync(sys.stdin.read)


async def go() -> float:
    """Wait for the driver's go; the first emit is now."""
    await anyio.to_thread.run_sync(sys.stdin.readline)
    return time.time()


def report(**figures: Any) -> None:
    print(json.dumps(figures), flush=True)


def client_name() -> str:
    return "coredis" if "coredis" in sys.modules else "redis-py"


async def te_consume(url: str, which: str) -> None:
    handler = timed if which == "timed" else sink
    async with EventBus([handler], backend=RedisStreamsBackend(url, service="bench")):
        ready()
        await stdin_closed()
    report(latencies=LATENCIES)


async def te_produce(url: str, count: int, mode: str, rate: float) -> None:
    backend = RedisStreamsBackend(url, service="bench", consume=False, max_pending=count + 1)
    async with EventBus(events=[Tick], backend=backend) as bus:
        ready()
        started = await go()
        if mode == "batch":
            for n in range(count):
                bus.emit(Tick(n=n))
            await backend.flush()
        elif mode == "awaited":
            for n in range(count):
                await bus.emit_async(Tick(n=n))
        else:
            begin = time.monotonic()
            for n in range(count):
                delay = begin + n / rate - time.monotonic()
                if delay > 0:
                    await anyio.sleep(delay)
                await bus.emit_async(Tick(n=n, sent=time.monotonic()))
        written = time.time()
    report(started=started, written=written, client=client_name())


def fs_broker(url: str, which: str = "") -> Any:
    """A FastStream broker; ``which`` subscribes a handler: ``one``, ``batch`` (no-ops),
    ``timed`` or ``timed-batch`` (note latencies)."""
    from faststream.redis import RedisBroker, StreamSub

    broker = RedisBroker(url, logger=None)
    batch = which.endswith("batch")
    sub = StreamSub(FS_STREAM, group="bench", consumer="c1", max_records=READ, batch=batch)
    timed = which.startswith("timed")
    if batch:

        @broker.subscriber(stream=sub)
        async def handle_batch(body: list[FsTick]) -> None:
            if timed:
                now = time.monotonic()
                LATENCIES.extend((tick.n, now - tick.sent) for tick in body)

    elif which:

        @broker.subscriber(stream=sub)
        async def handle(body: FsTick) -> None:
            if timed:
                LATENCIES.append((body.n, time.monotonic() - body.sent))

    return broker


async def fs_consume(url: str, which: str) -> None:
    broker = fs_broker(url, which)
    await broker.start()
    ready()
    await stdin_closed()
    await broker.stop()
    report(latencies=LATENCIES)


async def fs_produce(url: str, count: int, mode: str, rate: float) -> None:
    import redis.asyncio

    broker = fs_broker(url)
    await broker.connect()
    client = redis.asyncio.Redis.from_url(url)
    ready()
    started = await go()
    if mode == "batch":
        for first in range(0, count, PIPELINE):
            pipe = client.pipeline(transaction=False)
            for n in range(first, min(first + PIPELINE, count)):
                await broker.publish(FsTick(n=n), stream=FS_STREAM, pipeline=pipe)
            await pipe.execute()
    elif mode == "awaited":
        for n in range(count):
            await broker.publish(FsTick(n=n), stream=FS_STREAM)
    else:
        begin = time.monotonic()
        for n in range(count):
            delay = begin + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await broker.publish(FsTick(n=n, sent=time.monotonic()), stream=FS_STREAM)
    written = time.time()
    await client.aclose()
    await broker.stop()
    report(started=started, written=written)


async def floor_consume(url: str, client: str, count: int) -> None:
    acked = 0
    if client == "coredis":
        import coredis

        async with coredis.Redis.from_url(url) as r:
            await r.xgroup_create(FLOOR_STREAM, "floor", "$", mkstream=True)
            ready()
            while acked < count:
                reply = await r.xreadgroup(
                    "floor", "c1", {FLOOR_STREAM: ">"}, count=READ, block=100
                )
                for entries in (reply or {}).values():
                    await r.xack(FLOOR_STREAM, "floor", [entry.identifier for entry in entries])
                    acked += len(entries)
    else:
        import redis.asyncio

        rp = redis.asyncio.Redis.from_url(url)
        await rp.xgroup_create(FLOOR_STREAM, "floor", "$", mkstream=True)
        ready()
        while acked < count:
            for _, entries in await rp.xreadgroup("floor", "c1", {FLOOR_STREAM: ">"}, READ, 100):
                await rp.xack(FLOOR_STREAM, "floor", *(entry_id for entry_id, _ in entries))
                acked += len(entries)
        await rp.aclose()
    await stdin_closed()
    report(latencies=[])


async def floor_produce(url: str, client: str, count: int) -> None:
    if client == "coredis":
        import coredis

        async with coredis.Redis.from_url(url) as r:
            ready()
            started = await go()
            for first in range(0, count, PIPELINE):
                async with r.pipeline(transaction=False) as pipe:
                    for _ in range(min(PIPELINE, count - first)):
                        pipe.xadd(FLOOR_STREAM, {"envelope": PAYLOAD})
            written = time.time()
    else:
        import redis.asyncio

        rp = redis.asyncio.Redis.from_url(url)
        ready()
        started = await go()
        for first in range(0, count, PIPELINE):
            pipe = rp.pipeline(transaction=False)
            for _ in range(min(PIPELINE, count - first)):
                pipe.xadd(FLOOR_STREAM, {"envelope": PAYLOAD})
            await pipe.execute()
        written = time.time()
        await rp.aclose()
    report(started=started, written=written)


# -- the driver ---------------------------------------------------------------------------


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private redis-server on a free loopback port, without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not on PATH: apt-get install redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--logfile", "redis.log"],
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(500):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.01)
    return server, f"redis://127.0.0.1:{port}/0"


def child(*args: object) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, __file__, *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise RuntimeError(f"{args[0]} did not start: {line!r}")
    return process


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    """Close its stdin, read its last line as JSON."""
    out, _ = process.communicate(timeout=120)
    return dict(json.loads(out.strip().splitlines()[-1]))


def settled(client: redis.Redis, stream: str, count: int) -> bool:
    """True once ``count`` entries are in ``stream`` and every group read and acked them."""
    pipe = client.pipeline(transaction=False)
    pipe.xlen(stream)
    pipe.xinfo_groups(stream)
    pipe.xrevrange(stream, count=1)
    try:
        length, groups, last = pipe.execute()
    except redis.ResponseError:
        return False  # no stream yet
    return bool(
        length == count
        and groups
        and last
        and all(g["pending"] == 0 and g["last-delivered-id"] == last[0][0] for g in groups)
    )


def run_once(
    url: str, stream: str, consumer: list[object] | None, producer: list[object], count: int
) -> dict[str, Any]:
    """One measurement: start the consumer (if any), then the producer; time to settled."""
    admin = redis.Redis.from_url(url)
    admin.delete(stream)
    reader = child(*consumer) if consumer else None
    try:
        writer = child(*producer)
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
        deadline = time.monotonic() + 300
        while reader is not None and not settled(admin, stream, count):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{consumer} did not settle {count} events in 300 s")
            time.sleep(0.002)
        done = time.time()
        produced = finish(writer)
        consumed = finish(reader) if reader is not None else {}
    finally:
        if reader is not None and reader.poll() is None:
            reader.kill()
    seconds = (done if reader is not None else produced["written"]) - produced["started"]
    figures: dict[str, Any] = {"events_per_s": count / seconds}
    if "client" in produced:
        figures["client"] = produced["client"]
    if consumed.get("latencies"):
        skip = count // 10  # warm-up
        late = sorted(latency for n, latency in consumed["latencies"] if n >= skip)
        figures["p50_us"] = late[len(late) // 2] * 1e6
        figures["p99_us"] = late[min(len(late) - 1, int(len(late) * 0.99))] * 1e6
    return figures


def scenarios(n: int, lat_n: int, rate: float) -> dict[str, Callable[[str], dict[str, Any]]]:
    te, fs, fl = TE_STREAM, FS_STREAM, FLOOR_STREAM
    table: dict[str, tuple[str, list[object] | None, list[object], int]] = {
        "e2e typed-events": (te, ["_te_consume", "sink"], ["_te_produce", n, "batch"], n),
        "e2e faststream StreamSub": (fs, ["_fs_consume", "one"], ["_fs_produce", n, "batch"], n),
        "e2e faststream batch": (fs, ["_fs_consume", "batch"], ["_fs_produce", n, "batch"], n),
        "e2e floor coredis": (
            fl, ["_floor_consume", "coredis", n], ["_floor_produce", "coredis", n], n
        ),
        "e2e floor redis-py": (
            fl, ["_floor_consume", "redis-py", n], ["_floor_produce", "redis-py", n], n
        ),
        "publish batched typed-events": (te, None, ["_te_produce", n, "batch"], n),
        "publish batched floor coredis": (fl, None, ["_floor_produce", "coredis", n], n),
        "publish batched floor redis-py": (fl, None, ["_floor_produce", "redis-py", n], n),
        "publish awaited typed-events": (te, None, ["_te_produce", n, "awaited"], n),
        "publish awaited faststream": (fs, None, ["_fs_produce", n, "awaited"], n),
        "latency typed-events": (
            te, ["_te_consume", "timed"], ["_te_produce", lat_n, "paced"], lat_n
        ),
        "latency faststream StreamSub": (
            fs, ["_fs_consume", "timed"], ["_fs_produce", lat_n, "paced"], lat_n
        ),
        "latency faststream batch": (
            fs, ["_fs_consume", "timed-batch"], ["_fs_produce", lat_n, "paced"], lat_n
        ),
    }  # fmt: skip

    def bind(stream: str, consumer: list[object] | None, producer: list[object], count: int) -> Any:
        def measure(url: str) -> dict[str, Any]:
            cons = [consumer[0], url, *consumer[1:]] if consumer else None
            prod = [producer[0], url, *producer[1:]]
            if prod[0] in {"_te_produce", "_fs_produce"}:
                prod.append(rate)
            return run_once(url, stream, cons, prod, count)

        return measure

    return {name: bind(*spec) for name, spec in table.items()}


def med(runs: dict[str, list[dict[str, Any]]], name: str, key: str = "events_per_s") -> float:
    return statistics.median(run[key] for run in runs[name])


def goals(runs: dict[str, list[dict[str, Any]]]) -> list[tuple[str, float, str, float]]:
    """(goal, ratio, comparison, threshold) for each of the issue's goals."""
    e2e_floor = max(med(runs, "e2e floor coredis"), med(runs, "e2e floor redis-py"))
    pub_floor = max(
        med(runs, "publish batched floor coredis"), med(runs, "publish batched floor redis-py")
    )
    e2e = med(runs, "e2e typed-events")
    return [
        ("end to end >= 0.7x the floor", e2e / e2e_floor, ">=", 0.7),
        ("end to end >= 1.2x FastStream batch=True", e2e / med(runs, "e2e faststream batch"),
         ">=", 1.2),
        ("batched publish >= 0.8x the floor", med(runs, "publish batched typed-events")
         / pub_floor, ">=", 0.8),
        ("awaited publish >= 1.0x FastStream", med(runs, "publish awaited typed-events")
         / med(runs, "publish awaited faststream"), ">=", 1.0),
        ("p99 publish->handle <= 1.2x FastStream's better mode", med(
            runs, "latency typed-events", "p99_us") / min(
            med(runs, "latency faststream StreamSub", "p99_us"),
            med(runs, "latency faststream batch", "p99_us")), "<=", 1.2),
    ]  # fmt: skip


def versions() -> dict[str, str]:
    found = {}
    for name in ("typed-events", "faststream", "coredis", "redis", "hiredis", "pydantic", "anyio"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def print_table(results: dict[str, Any]) -> None:
    runs: dict[str, list[dict[str, Any]]] = results["runs"]
    meta = results["meta"]
    print(
        f"\n{meta['events']:,} events ({meta['latency_events']:,} at {meta['rate']:,.0f}/s for "
        f"latency), {meta['runs']} interleaved run(s), median (min-max); {meta['machine']}; "
        f"nproc {meta['nproc']}; load {meta['load_start']} at start, {meta['load_end']} at "
        f"end; Python {meta['python']}; redis-server {meta['redis_server']}; typed-events' "
        f"client: {meta['typed_events_client']}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + "\n")
    print("| scenario | median | min-max |")
    print("|---|---:|---:|")
    for name, measured in runs.items():
        key, unit = ("p99_us", " µs p99") if name.startswith("latency") else ("events_per_s", "/s")
        values = [run[key] for run in measured]
        extra = (
            f" (p50 {statistics.median(r['p50_us'] for r in measured):,.0f} µs)"
            if key == "p99_us"
            else ""
        )
        print(
            f"| {name} | {statistics.median(values):,.0f}{unit}{extra} | "
            f"{min(values):,.0f}-{max(values):,.0f} |"
        )
    print("\n| goal (typed-events) | this run | status |")
    print("|---|---:|---|")
    for goal, ratio, op, threshold in goals(runs):
        met = ratio >= threshold if op == ">=" else ratio <= threshold
        print(f"| {goal} | {ratio:.2f}x | {'met' if met else '**missed**'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--latency-events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=2_000.0, help="latency: events/s")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", help="comma-separated scenario name prefixes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    todo = scenarios(args.events, args.latency_events, args.rate)
    if args.only:
        todo = {k: v for k, v in todo.items() if k.startswith(tuple(args.only.split(",")))}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    meta: dict[str, Any] = {
        "events": args.events, "latency_events": args.latency_events, "rate": args.rate,
        "runs": args.runs, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit, "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "nproc": os.cpu_count(), "python": platform.python_version(), "versions": versions(),
        "hiredis_in_redis_py": bool(getattr(redis.utils, "HIREDIS_AVAILABLE", False)),
        "load_start": [round(x, 2) for x in os.getloadavg()], "pipeline": PIPELINE,
        "read_count": READ, "faststream_logging": "off (logger=None)",
    }  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in todo}
    with tempfile.TemporaryDirectory() as directory:
        server, url = start_redis(Path(directory))
        try:
            meta["redis_server"] = dict(redis.Redis.from_url(url).info("server"))["redis_version"]
            for number in range(args.runs):  # interleaved: a noisy moment hits everyone
                for name, measure in todo.items():
                    runs[name].append(measure(url))
                    print(f"run {number + 1} {name}: {runs[name][-1]}", flush=True)
        finally:
            server.terminate()
            server.wait()
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
    clients = {run["client"] for m in runs.values() for run in m if "client" in run}
    meta["typed_events_client"] = ", ".join(sorted(clients)) or "not measured"
    results = {"meta": meta, "runs": runs}
    if len(todo) == len(scenarios(1, 1, 1.0)):
        print_table(results)
        results["goals"] = [
            {"goal": g, "ratio": r, "met": r >= t if op == ">=" else r <= t}
            for g, r, op, t in goals(runs)
        ]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    role, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if role == "_te_consume":
        anyio.run(te_consume, *rest, backend="asyncio")
    elif role == "_te_produce":
        anyio.run(te_produce, rest[0], int(rest[1]), rest[2], float(rest[3]), backend="asyncio")
    elif role == "_fs_consume":
        asyncio.run(fs_consume(*rest))
    elif role == "_fs_produce":
        asyncio.run(fs_produce(rest[0], int(rest[1]), rest[2], float(rest[3])))
    elif role == "_floor_consume":
        anyio.run(floor_consume, rest[0], rest[1], int(rest[2]), backend="asyncio")
    elif role == "_floor_produce":
        anyio.run(floor_produce, rest[0], rest[1], int(rest[2]), backend="asyncio")
    else:
        main()
