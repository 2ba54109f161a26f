"""The outbox's two costs: relay throughput (PostgreSQL to Redis) and what emit adds.

Starts a private PostgreSQL (Debian's binaries, as the tests do: fsync off, so commits
are cheap and the outbox's own work stands out) and a private redis-server, then:

1. **relay**: fills the outbox with N rows, starts a relay (``async with bus, outbox``,
   a ``RedisStreamsBackend`` with ``consume=False``) and times it from the start until
   Redis holds all N events. Run with Redis appending with ``fsync always`` (what the
   tests use: an acknowledged event survives a kill -9 of Redis) and without
   persistence, for a sync ``Engine`` and an ``AsyncEngine``.
2. **emit**: the same transaction (insert one user, commit) with and without
   ``outbox.emit`` of one event (and of ten), sync ``Session``; the difference per
   transaction is what the outbox costs the request. Also the bare ``outbox.emit``
   call (validate, encode, ``session.add``), without the flush.

    .venv/bin/python benchmarks/outbox_bench.py                  # 20,000 rows, 3 runs
    .venv/bin/python benchmarks/outbox_bench.py --rows 5000 --runs 1
    .venv/bin/python benchmarks/outbox_bench.py --json benchmarks/results/outbox.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Engine, String, create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.redis.conftest import RedisServer, find_redis_server, free_port  # noqa: E402
from tests.sqlalchemy.conftest import PostgresServer, find_postgres_bindir  # noqa: E402
from typed_events import Event, EventBus  # noqa: E402
from typed_events.backends.redis import RedisStreamsBackend  # noqa: E402
from typed_events.backends.redis._client import Client, open_client  # noqa: E402
from typed_events.backends.redis._connection import RedisError  # noqa: E402
from typed_events.sqlalchemy import Outbox  # noqa: E402

STREAM = "typed-events:bench_signed_up"


class SignedUp(Event, event_id="bench_signed_up"):
    user_id: int
    email: str
    plan: str = "free"


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200))


def fill(engine: Engine, outbox: Outbox, rows: int) -> None:
    with Session(engine) as session, session.begin():
        for n in range(rows):
            outbox.emit(session, SignedUp, user_id=n, email=f"user{n}@example.com")


def reset(engine: Engine, outbox: Outbox) -> None:
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {outbox.table.name}"))


async def relay_once(
    pg_url: str, redis_url: str, rows: int, batch: int, asynchronous: bool
) -> float:
    """Seconds from the relay's start until Redis holds all ``rows`` events."""
    async with open_client(redis_url) as client:
        return await _relay_once(client, pg_url, redis_url, rows, batch, asynchronous)


async def _relay_once(
    client: Client, pg_url: str, redis_url: str, rows: int, batch: int, asynchronous: bool
) -> float:
    await client.delete([STREAM])
    sync_engine = create_engine(pg_url)
    writer = Outbox(EventBus(events=[SignedUp]), sync_engine)
    await writer.create_table()
    reset(sync_engine, writer)
    fill(sync_engine, writer, rows)
    async_engine = create_async_engine(pg_url) if asynchronous else None
    engine = async_engine or sync_engine
    bus = EventBus(
        events=[SignedUp], backend=RedisStreamsBackend(redis_url, service="bench", consume=False)
    )
    outbox = Outbox(bus, engine, batch_size=batch)
    async with bus:
        started = time.perf_counter()
        async with outbox:
            # Polling Redis, which another task (the relay) fills.
            while await client.xlen(STREAM) < rows:  # noqa: ASYNC110
                await anyio.sleep(0.005)
            elapsed = time.perf_counter() - started
    if async_engine is not None:
        await async_engine.dispose()
    sync_engine.dispose()
    return elapsed


def start_plain_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server without persistence: acknowledged means in memory only."""
    binary = find_redis_server()
    assert binary is not None, "no redis-server"
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    anyio.run(_ping_until_up, url)
    return process, url


async def _ping_until_up(url: str) -> None:
    async with open_client(url) as client:
        for _ in range(500):
            try:
                await client.ping()
                return
            except (RedisError, OSError):
                await anyio.sleep(0.01)


def per_transaction(engine: Engine, work: Callable[[Session, int], None], count: int) -> float:
    """Microseconds per transaction of ``work`` (insert + commit included)."""
    started = time.perf_counter()
    for n in range(count):
        with Session(engine) as session, session.begin():
            work(session, n)
    return (time.perf_counter() - started) / count * 1e6


def emit_cost(pg_url: str, transactions: int, runs: int) -> dict[str, float]:
    engine = create_engine(pg_url)
    Base.metadata.create_all(engine)
    outbox = Outbox(EventBus(events=[SignedUp]), engine)
    outbox.table.create(engine, checkfirst=True)

    def plain(session: Session, n: int) -> None:
        session.add(Account(email=f"user{n}@example.com"))

    def one(session: Session, n: int) -> None:
        plain(session, n)
        outbox.emit(session, SignedUp, user_id=n, email=f"user{n}@example.com")

    def ten(session: Session, n: int) -> None:
        plain(session, n)
        for k in range(10):
            outbox.emit(session, SignedUp, user_id=n * 10 + k, email=f"user{n}@example.com")

    results: dict[str, list[float]] = {"plain": [], "one": [], "ten": []}
    per_transaction(engine, one, 200)  # warm up: connections, statement caches
    for _ in range(runs):
        for name, work in (("plain", plain), ("one", one), ("ten", ten)):
            results[name].append(per_transaction(engine, work, transactions))
            reset(engine, outbox)
    with Session(engine) as session:  # the call alone, no flush
        started = time.perf_counter()
        for n in range(10_000):
            outbox.emit(session, SignedUp, user_id=n, email="x@example.com")
        bare = (time.perf_counter() - started) / 10_000 * 1e6
        session.rollback()
    engine.dispose()
    best = {name: min(values) for name, values in results.items()}
    return {
        "transaction_us": best["plain"],
        "transaction_with_one_emit_us": best["one"],
        "added_by_one_emit_us": best["one"] - best["plain"],
        "added_per_emit_of_ten_us": (best["ten"] - best["plain"]) / 10,
        "emit_call_without_flush_us": bare,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transactions", type=int, default=2_000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    bindir = find_postgres_bindir()
    redis_binary = find_redis_server()
    if bindir is None or redis_binary is None:
        print("needs PostgreSQL's binaries and a redis-server", file=sys.stderr)
        return 2
    pg = PostgresServer(bindir)
    pg.start()
    with tempfile.TemporaryDirectory() as tmp:
        durable = RedisServer(redis_binary, Path(tmp))
        durable.start()
        plain, plain_url = start_plain_redis(Path(tmp))
        try:
            pg_url = pg.url()
            relay: dict[str, Any] = {}
            for label, url in (("fsync always", durable.url), ("no persistence", plain_url)):
                for asynchronous in (False, True):
                    key = f"{'AsyncEngine' if asynchronous else 'Engine'}, Redis {label}"
                    times = [
                        anyio.run(relay_once, pg_url, url, args.rows, args.batch, asynchronous)
                        for _ in range(args.runs)
                    ]
                    relay[key] = round(args.rows / min(times))
                    print(f"relay {key}: {relay[key]:,} rows/s (best of {args.runs})")
            emit = emit_cost(pg_url, args.transactions, args.runs)
            for name, value in emit.items():
                print(f"emit {name}: {value:.1f} µs")
        finally:
            plain.terminate()
            plain.wait()
            durable.close()
            pg.stop()
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": platform.platform(),
                    "python": platform.python_version(),
                    "rows": args.rows,
                    "batch_size": args.batch,
                    "relay_rows_per_second": relay,
                    "emit": {k: round(v, 1) for k, v in emit.items()},
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
