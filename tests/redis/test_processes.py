"""Real processes on one redis-server: exactly once, and at least once under kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import RedisServer
from .helpers import wait_for

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
GROUPS = ("numbers:tests.redis.app.record_a", "numbers:tests.redis.app.record_b")
STREAM = "typed-events:numbered"


def spawn(role: str, url: str, out: Path, *options: str) -> subprocess.Popen[bytes]:
    code = "import sys; from tests.redis.app import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, role, "--url", url, "--out", str(out), *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"},
    )


def records(out: Path) -> Iterator[tuple[str, int, str, str]]:
    """(listener, n, cloudevents id, worker log name) for every listener call so far."""
    for log in sorted(out.glob("worker-*.log")):
        for line in log.read_text().splitlines():
            name, n, event_id = line.split()
            yield name, int(n), event_id, log.name


def calls(out: Path, listener: str) -> Counter[int]:
    return Counter(n for name, n, _, _ in records(out) if name == listener)


def start_workers(url: str, out: Path, count: int, *options: str) -> list[subprocess.Popen[bytes]]:
    """``count`` workers, on asyncio and trio in turn: both run side by side in one group."""
    loops = ("asyncio", "trio")
    workers = [spawn("worker", url, out, *options, "--loop", loops[i % 2]) for i in range(count)]
    wait_for(lambda: len(list(out.glob("ready-*"))) == count, "the workers to start")
    return workers


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def assert_all_acknowledged(server: RedisServer) -> None:
    client = server.client()
    last = client.last_id(STREAM)
    groups = {g["name"].decode(): g for g in client.groups(STREAM)}
    for group in GROUPS:
        assert groups[group]["pending"] == 0
        # Read up to the last entry: Redis 7's "lag" is 0, said in a way Redis 6.2 knows too.
        assert groups[group]["last-delivered-id"] == last
    assert server.client().xlen("typed-events:dead-letter") == 0


def test_two_workers_one_emitter_each_listener_handles_each_event_exactly_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    total = 10_000
    workers = start_workers(redis_server.url, tmp_path, 2)
    try:
        emitter = spawn(
            "emitter", redis_server.url, tmp_path, "--count", str(total), "--loop", "trio"
        )
        assert emitter.wait(timeout=120) == 0, "the emitter reported unwritten events"
        wait_for(
            lambda: (
                sum(calls(tmp_path, "a").values()) >= total
                and sum(calls(tmp_path, "b").values()) >= total
            ),
            "every event to reach both listeners",
        )
    finally:
        codes = [stop(worker) for worker in workers]
    assert codes == [0, 0]
    for listener in ("a", "b"):
        counts = calls(tmp_path, listener)
        assert set(counts) == set(range(total))
        assert set(counts.values()) == {1}, "some event was handled twice"
    # One emitted event has one CloudEvents id, whichever worker and listener saw it.
    ids: dict[int, set[str]] = {}
    for _, n, event_id, _ in records(tmp_path):
        ids.setdefault(n, set()).add(event_id)
    assert all(len(found) == 1 for found in ids.values())
    assert len({next(iter(found)) for found in ids.values()}) == total
    assert_all_acknowledged(redis_server)


def test_kill_9_of_a_worker_mid_batch_loses_nothing(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    total = 1_000
    options = (
        "--delay",
        "0.005",
        "--concurrency",
        "2",
        "--claim-idle",
        "1.0",
        "--batch-size",
        "20",
    )
    victim, survivor = start_workers(redis_server.url, tmp_path, 2, *options)
    victim_log = tmp_path / f"worker-{victim.pid}.log"
    victim_consumer = (tmp_path / f"ready-{victim.pid}").read_text()
    try:
        emitter = spawn("emitter", redis_server.url, tmp_path, "--count", str(total))
        assert emitter.wait(timeout=120) == 0
        wait_for(
            lambda: victim_log.exists() and len(victim_log.read_text().splitlines()) >= 100,
            "the victim to be busy",
        )
        victim.kill()  # SIGKILL: no cleanup, no acknowledgement of the batch in hand
        victim.wait(timeout=10)
        # It died holding messages it had not acknowledged (the point of the test).
        held = sum(
            c["pending"]
            for group in GROUPS
            for c in redis_server.client().consumers(STREAM, group)
            if c["name"].decode() == victim_consumer
        )
        assert held > 0
        wait_for(
            lambda: (
                set(calls(tmp_path, "a")) == set(range(total))
                and set(calls(tmp_path, "b")) == set(range(total))
            ),
            "every event to reach both listeners despite the kill",
        )
    finally:
        if victim.poll() is None:
            victim.kill()
        code = stop(survivor)
    assert code == 0
    assert_all_acknowledged(redis_server)
