"""Per-key order across processes: partitions, leases, kill -9 and rebalancing.

Workers run ``tests/redis/partition_app.py``, alternately on asyncio and trio, and log
every listener call; the tests read the logs (and the leases in Redis) afterwards.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from typed_events.backends.redis._lease_scripts import LeaseInfo, describe
from typed_events.backends.redis._partitions import PartitionKeys

from .blocking import BlockingRedis
from .conftest import RedisServer
from .helpers import wait_for
from .partition_app import in_order

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
LEASE = 1.0  # claim_idle: how long a lease lasts without a heartbeat
PARTITIONS = 16
LOOPS = ("asyncio", "trio")


@dataclass(frozen=True)
class Call:
    kind: str
    key: str
    seq: int
    event_id: str
    partition: int
    pid: int
    start: int
    end: int


def spawn(role: str, url: str, out: Path, *options: str) -> subprocess.Popen[bytes]:
    code = "import sys; from tests.redis.partition_app import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, role, "--url", url, "--out", str(out), *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"},
    )


def start_worker(url: str, out: Path, *options: str) -> subprocess.Popen[bytes]:
    loop = LOOPS[len(list(out.glob("ready-*"))) % 2]
    worker = spawn("worker", url, out, "--claim-idle", str(LEASE), "--backend", loop, *options)
    wait_for(lambda: (out / f"ready-{worker.pid}").exists(), "a worker to start")
    return worker


def consumer_name(out: Path, worker: subprocess.Popen[bytes]) -> str:
    """The worker's consumer name: the member name its leases carry."""
    return (out / f"ready-{worker.pid}").read_text()


def calls(out: Path) -> list[Call]:
    found: list[Call] = []
    for log in sorted(out.glob("worker-*.log")):
        for line in log.read_text().splitlines():
            kind, key, seq, event_id, partition, pid, start, end = line.split()
            found.append(
                Call(kind, key, int(seq), event_id, int(partition), int(pid), int(start), int(end))
            )
    return found


def handled_in_order(found: list[Call]) -> dict[str, list[int]]:
    """Each key's sequence numbers as the ordered listener first handled them."""
    seen: set[str] = set()
    by_key: dict[str, list[int]] = defaultdict(list)
    for call in sorted((c for c in found if c.kind == "o"), key=lambda c: c.start):
        if call.event_id not in seen:  # a redelivery after a kill: dedup by CloudEvents id
            seen.add(call.event_id)
            by_key[call.key].append(call.seq)
    return by_key


def overlapping_holders(found: list[Call]) -> list[tuple[int, Call, Call]]:
    """Ordered calls of one partition in two processes that ran at the same time."""
    by_partition: dict[int, list[Call]] = defaultdict(list)
    for call in found:
        if call.kind == "o":
            by_partition[call.partition].append(call)
    clashes = []
    for partition, group in by_partition.items():
        group.sort(key=lambda c: c.start)
        for i, before in enumerate(group):
            for after in group[i + 1 :]:
                if after.start >= before.end:
                    break  # sorted by start: no later call began before this one ended
                if after.pid != before.pid:
                    clashes.append((partition, before, after))
    return clashes


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_per_key_order_holds_across_four_processes_under_kill_9_storms(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    total, keys = 10_000, 100
    workers = [start_worker(redis_server.url, tmp_path) for _ in range(4)]
    chaos = random.Random(11)
    kills = 0
    try:
        emitter = spawn(
            "emitter",
            redis_server.url,
            tmp_path,
            "--count",
            str(total),
            "--keys",
            str(keys),
            "--rate",
            "1500",
        )

        # Every 2 s, kill -9 a random worker (no cleanup, its leases and pending messages
        # stay behind) and start a replacement, until every event reached both listeners.
        def everything_handled() -> bool:
            found = calls(tmp_path)
            return (
                len({c.event_id for c in found if c.kind == "o"}) >= total
                and len({c.event_id for c in found if c.kind == "u"}) >= total
            )

        hang_guard = time.monotonic() + 180  # only against a hang, as wait_for's timeout
        while not everything_handled():
            if time.monotonic() > hang_guard:
                pytest.fail("gave up after 180 s waiting for every event to reach both listeners")
            time.sleep(2.0)
            if emitter.poll() is None or kills < 4:
                victim = workers.pop(chaos.randrange(len(workers)))
                victim.kill()
                victim.wait(timeout=10)
                kills += 1
                workers.append(start_worker(redis_server.url, tmp_path))
        assert emitter.wait(timeout=60) == 0, "the emitter reported unwritten events"
    finally:
        codes = [stop(worker) for worker in workers if worker.poll() is None]
    assert kills >= 4
    assert codes == [0] * len(codes)
    found = calls(tmp_path)
    per_key = total // keys
    order = handled_in_order(found)
    assert set(order) == {f"key-{k}" for k in range(keys)}
    for key, seqs in order.items():
        assert seqs == list(range(per_key)), f"{key} was handled out of order: {seqs[:20]}..."
    unordered = {(c.key, c.seq) for c in found if c.kind == "u"}
    assert unordered == {(f"key-{k}", s) for k in range(keys) for s in range(per_key)}
    assert overlapping_holders(found) == []


@dataclass
class Sample:
    """One read-out of every partition's lease, taken between ``start`` and ``end`` (ns)."""

    start: int
    end: int
    leases: list[LeaseInfo]


@dataclass
class LeaseSampler:
    """Reads the leases (``describe``) every ~50 ms in a thread of its own."""

    url: str
    keys: PartitionKeys
    samples: list[Sample] = field(default_factory=list[Sample])
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def __enter__(self) -> LeaseSampler:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        assert self.thread is not None
        self.thread.join(timeout=30)

    def run(self) -> None:
        client = BlockingRedis(self.url)
        try:
            while not self.done.is_set():
                start = time.monotonic_ns()
                leases = client.run(lambda c: describe(c, self.keys))
                self.samples.append(Sample(start, time.monotonic_ns(), leases))
                time.sleep(0.05)
        finally:
            client.close()

    def latest(self) -> list[LeaseInfo]:
        return self.samples[-1].leases if self.samples else []

    def spread(self) -> dict[str | None, int]:
        """How many partitions each holder (None: nobody) has in the latest read-out."""
        return dict(Counter(info.holder for info in self.latest()))


def held_by_someone_else(found: list[Call], samples: list[Sample]) -> list[str]:
    """Read-outs taken wholly inside an ordered call that name another holder (or none)."""
    breaches = []
    for call in (c for c in found if c.kind == "o"):
        for sample in samples:
            if call.start < sample.start and sample.end < call.end:
                holder = sample.leases[call.partition].holder
                if holder is None or f":{call.pid}:" not in holder:
                    breaches.append(f"{call} ran while the lease said {holder}")
    return breaches


def longest_unheld(samples: list[Sample]) -> float:
    """Per partition, the longest run of read-outs finding it free, in seconds (from the
    end of the first such read-out to the start of the last: a lower bound), counted
    from the first read-out in which every partition was held."""
    begun = next(i for i, s in enumerate(samples) if all(info.holder for info in s.leases))
    longest = 0.0
    for partition in range(PARTITIONS):
        first_free: Sample | None = None
        for sample in samples[begun:]:
            if sample.leases[partition].holder is None:
                first_free = first_free or sample
                longest = max(longest, (sample.start - first_free.end) / 1e9)
            else:
                first_free = None
    return longest


def test_leases_move_one_holder_at_a_time_and_spread_evenly_as_processes_join_and_leave(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    keys = PartitionKeys("typed-events:", "step", f"steps:{in_order.name}", PARTITIONS)
    emitter = spawn("emitter", redis_server.url, tmp_path, "--count", "100000", "--rate", "150")
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with LeaseSampler(redis_server.url, keys) as sampler:

            def settled(counts: list[int]) -> bool:
                spread = sampler.spread()
                live = {consumer_name(tmp_path, w) for w in workers if w.poll() is None}
                return set(spread) == live and sorted(spread.values()) == counts

            workers.append(start_worker(redis_server.url, tmp_path, "--delay", "0.002"))
            wait_for(lambda: settled([16]), "one process to hold all 16 partitions")
            for _ in range(3):
                workers.append(start_worker(redis_server.url, tmp_path, "--delay", "0.002"))
            wait_for(lambda: settled([4, 4, 4, 4]), "four processes to hold 4 each")
            assert [stop(worker) for worker in workers[:2]] == [0, 0]
            wait_for(lambda: settled([8, 8]), "the two left to hold 8 each")
            time.sleep(1.0)  # the paced emitter goes on a little with the two
            assert stop(emitter) == 0, "the emitter reported unwritten events"
            emitted: dict[str, int] = json.loads((tmp_path / "emitted.json").read_text())

            def all_handled() -> bool:
                handled = handled_in_order(calls(tmp_path))
                return sum(map(len, handled.values())) == sum(emitted.values())

            wait_for(all_handled, "every emitted event to be handled by the ordered listener")
        codes = [stop(worker) for worker in workers[2:]]  # the read-outs have ended
    finally:
        for process in [emitter, *workers]:
            if process.poll() is None:
                process.kill()  # only when the test failed early: the stops above ran
                process.wait(timeout=10)
    assert codes == [0, 0]
    found = calls(tmp_path)
    order = handled_in_order(found)
    assert {key: len(seqs) for key, seqs in order.items()} == emitted
    for key, seqs in order.items():
        assert seqs == list(range(emitted[key])), f"{key} was handled out of order"
    assert overlapping_holders(found) == []
    assert len(sampler.samples) >= 50
    assert held_by_someone_else(found, sampler.samples) == []
    unheld = longest_unheld(sampler.samples)
    print(f"{len(sampler.samples)} lease read-outs; longest unheld partition: {unheld:.3f}s")
    assert unheld < LEASE
