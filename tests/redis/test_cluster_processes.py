"""Real processes on a real Redis Cluster: exactly once, and a primary killed mid-run.

The workers and emitters are the single-node suite's (``tests/redis/app.py`` and
``tests/redis/partition_app.py``), given the cluster's ``redis+cluster://`` URL.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import anyio
import pytest

from typed_events.backends.redis._client import open_client

from . import test_partitions_processes as partitioned
from . import test_processes as numbered
from .cluster import ClusterHandle
from .helpers import wait_for
from .partition_app import anywhere, in_order

pytestmark = pytest.mark.redis

STREAM = "{typed-events:numbered}"
DEAD_LETTERS = "{typed-events:dead-letter}"


def groups_drained(url: str, streams: list[str], groups: tuple[str, ...]) -> dict[str, int]:
    """Per ``stream group``: its pending count plus its lag (0 when read to the end)."""

    async def read() -> dict[str, int]:
        found: dict[str, int] = {}
        async with open_client(url) as client:
            for stream in streams:
                last = (await client.xinfo_stream(stream))["last-generated-id"]
                for raw in await client.xinfo_groups(stream):
                    info = cast("dict[Any, Any]", raw)  # bytes keys: the client does not decode
                    name = info[b"name"].decode()
                    if name in groups:
                        behind = info[b"last-delivered-id"] != last
                        found[f"{stream} {name}"] = int(info[b"pending"]) + behind
            found["dead letters"] = await client.xlen(DEAD_LETTERS)
        return found

    return anyio.run(read)


def test_two_workers_one_emitter_each_listener_handles_each_event_exactly_once_on_a_cluster(
    cluster: ClusterHandle, tmp_path: Path
) -> None:
    total = 10_000
    workers = numbered.start_workers(cluster.url, tmp_path, 2)
    try:
        emitter = numbered.spawn(
            "emitter", cluster.url, tmp_path, "--count", str(total), "--loop", "trio"
        )
        assert emitter.wait(timeout=120) == 0, "the emitter reported unwritten events"
        wait_for(
            lambda: (
                sum(numbered.calls(tmp_path, "a").values()) >= total
                and sum(numbered.calls(tmp_path, "b").values()) >= total
            ),
            "every event to reach both listeners",
        )
    finally:
        codes = [numbered.stop(worker) for worker in workers]
    assert codes == [0, 0]
    for listener in ("a", "b"):
        counts = numbered.calls(tmp_path, listener)
        assert set(counts) == set(range(total))
        assert set(counts.values()) == {1}, "some event was handled twice"
    ids: dict[int, set[str]] = {}
    for _, n, event_id, _ in numbered.records(tmp_path):
        ids.setdefault(n, set()).add(event_id)
    assert all(len(found) == 1 for found in ids.values())
    assert len({next(iter(found)) for found in ids.values()}) == total
    drained = groups_drained(cluster.url, [STREAM], numbered.GROUPS)
    assert drained == dict.fromkeys([f"{STREAM} {g}" for g in numbered.GROUPS], 0) | {
        "dead letters": 0
    }


def acknowledged(out: Path) -> list[tuple[str, int, int]]:
    """``(key, seq, monotonic ns)`` of every emit_async that returned, in order."""
    log = out / "acked.log"
    if not log.exists():
        return []
    found = []
    for line in log.read_text().splitlines():
        key, seq, at = line.split()
        found.append((key, int(seq), int(at)))
    return found


def test_a_primary_killed_mid_run_loses_no_acknowledged_event(
    cluster: ClusterHandle, tmp_path: Path
) -> None:
    """kill -9 of the primary holding partition 0 while an emitter writes with
    ``emit_async``: every emit that returned is handled by both listeners.

    After the failover the promoted replica has no replica of its own, so ``WAIT 1`` for
    its slots cannot be met and the emits to them wait (they are not acknowledged, so
    they count for nothing yet); the killed node is restarted, rejoins as the promoted
    one's replica, and those emits complete. Duplicates are allowed (a rewritten batch,
    an XACK a failover undid) and counted; handlers dedupe by CloudEvents id.
    """
    total = 6_000
    workers = [partitioned.start_worker(cluster.url, tmp_path) for _ in range(2)]
    victim = cluster.primary_for_key("{typed-events:step:0}")
    figures: dict[str, float] = {}
    try:
        emitter = partitioned.spawn(
            "emitter",
            cluster.url,
            tmp_path,
            *("--count", str(total), "--acked", "32", "--rate", "1500", "--backend", "trio"),
        )
        wait_for(lambda: len(acknowledged(tmp_path)) >= 1_000, "the emitter to be writing")
        killed_at = time.monotonic_ns()
        cluster.kill_primary(victim)
        failover = cluster.wait_for_failover(victim)
        figures["failover_s"] = failover.seconds
        started = time.monotonic()
        cluster.restart(victim)  # WAIT 1 on the promoted primary's slots can be met again
        figures["restart_s"] = time.monotonic() - started
        assert emitter.wait(timeout=120) == 0, "the emitter reported unwritten events"
        figures["emitter_done_after_kill_s"] = (time.monotonic_ns() - killed_at) / 1e9
        acked = acknowledged(tmp_path)
        assert len(acked) == total
        wanted = {(key, seq) for key, seq, _ in acked}

        def handled(kind: str) -> set[tuple[str, int]]:
            return {(c.key, c.seq) for c in partitioned.calls(tmp_path) if c.kind == kind}

        wait_for(
            lambda: wanted <= handled("o") and wanted <= handled("u"),
            "every acknowledged event to reach both listeners",
        )
        figures["drained_after_kill_s"] = (time.monotonic_ns() - killed_at) / 1e9
    finally:
        codes = [numbered.stop(worker) for worker in workers]
    assert codes == [0, 0]
    found = partitioned.calls(tmp_path)
    for kind in ("o", "u"):
        assert wanted <= {(c.key, c.seq) for c in found if c.kind == kind}, "an event was lost"
        # one event, one CloudEvents id, however many copies a rewrite made
        ids = Counter((key, seq) for key, seq, _ in {(c.key, c.seq, c.event_id) for c in found})
        assert set(ids.values()) == {1}
        figures[f"{kind}_duplicate_calls"] = sum(1 for c in found if c.kind == kind) - len(wanted)
    after = [at for _, _, at in acked if at > killed_at]
    before = [at for _, _, at in acked if at <= killed_at]
    figures["acked_before_kill"] = len(before)
    gaps = [b - a for a, b in itertools.pairwise(after)]
    first_after = (after[0] - killed_at) / 1e9 if after else 0.0
    figures["longest_ack_gap_s"] = max([first_after, *(g / 1e9 for g in gaps)])
    print(f"cluster failover figures: {figures}")  # read with pytest -s
    streams = [f"{{typed-events:step:{p}}}" for p in range(partitioned.PARTITIONS)]
    groups = (f"steps:{in_order.name}", f"steps:{anywhere.name}")
    drained = groups_drained(cluster.url, streams, groups)
    assert drained == dict.fromkeys(drained, 0), "something was left pending or unread"
