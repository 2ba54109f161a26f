"""Partition leases against a real redis-server, on asyncio and trio: at most one member
holds (and works on) a partition at any moment, through joins, planned leaves, deaths,
a lease deleted under its holder and a Redis that stops answering.

Several members run in this process as separate tasks, sharing one coredis client; a
member "dies" when its task is cancelled without a release (its work dies with it).
Bounds on hand-over times follow from ``lease_time``; they are the documented guarantee,
not speed measurements.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import coredis
import pytest
from anyio.abc import TaskGroup, TaskStatus
from coredis.client import Client

from typed_events.backends.redis._lease_scripts import describe, members
from typed_events.backends.redis._leases import PartitionLeases, assignment
from typed_events.backends.redis._partitions import PartitionKeys, partition_stream_key
from typed_events.errors import ConfigurationError, UsageError

from .conftest import RedisServer
from .helpers import eventually

pytestmark = [pytest.mark.redis, pytest.mark.anyio]

LEASE = 0.9  # seconds: short, so deaths are noticed quickly; heartbeat every 0.3 s
HEARTBEAT = LEASE / 3


@asynccontextmanager
async def connected(server: RedisServer) -> AsyncGenerator[Client[bytes]]:
    """A coredis client of the private server, entered (as the backend enters its own)."""
    async with coredis.Redis.from_url(server.url) as client:
        yield client


@dataclass
class Work:
    """What the members work on, shared by all: who works on which partition, and every
    breach of "one at a time" seen, by the hooks or by the sampler."""

    drain: float = 0.05  # seconds in-flight work takes to finish once asked to stop
    working: dict[int, str] = field(default_factory=dict[int, str])
    tokens: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    breaches: list[str] = field(default_factory=list[str])
    lost: list[tuple[str, int]] = field(default_factory=list[tuple[str, int]])
    released: list[tuple[str, int]] = field(default_factory=list[tuple[str, int]])
    gate: dict[int, anyio.Event] = field(default_factory=dict[int, anyio.Event])


class Member:
    """One process of the group: its leases, and the work its hooks start and stop."""

    def __init__(self, client: Client[bytes], keys: PartitionKeys, name: str, work: Work):
        self.name = name
        self.work = work
        self.alive = True
        self.scope = anyio.CancelScope()
        self.leases = PartitionLeases(
            client,
            keys,
            member=name,
            lease_time=LEASE,
            on_acquired=self.acquired,
            on_release=self.release,
        )

    async def acquired(self, partition: int, token: int) -> None:
        if not self.alive:
            # Killed while its task was already scheduled to resume: a dead process runs
            # nothing, so neither does this task's last step before its cancellation lands.
            return
        other = self.work.working.get(partition)
        if other is not None:
            self.work.breaches.append(f"{self.name} took {partition} while {other} works on it")
        self.work.working[partition] = self.name
        earlier = self.work.tokens[partition]
        if earlier and token <= earlier[-1]:
            self.work.breaches.append(f"token {token} of {partition} after {earlier[-1]}")
        earlier.append(token)

    async def release(self, partition: int, lost: bool) -> None:
        if lost:
            self.work.lost.append((self.name, partition))
        gate = self.work.gate.get(partition)
        if gate is not None:
            await gate.wait()  # work still in flight until the test opens the gate
        await anyio.sleep(self.work.drain)
        if self.alive and self.work.working.get(partition) == self.name:
            del self.work.working[partition]
        self.work.released.append((self.name, partition))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with self.scope:
            await self.leases.run(task_status=task_status)

    def kill(self) -> None:
        """Die without releasing: the task stops, and the work it was doing with it."""
        self.alive = False
        self.scope.cancel()
        for partition, name in list(self.work.working.items()):
            if name == self.name:
                del self.work.working[partition]


@dataclass
class Sampler:
    """Looks at every live member's ``held`` continuously: no partition in two at once,
    and how long each partition went without a holder."""

    members: list[Member]
    partitions: int
    breaches: list[str]
    longest_gap: float = 0.0
    samples: int = 0

    async def run(self) -> None:
        last_held = dict.fromkeys(range(self.partitions), anyio.current_time())
        while True:
            now = anyio.current_time()
            holders: dict[int, list[str]] = defaultdict(list)
            for member in self.members:
                if member.alive:
                    for partition in member.leases.held:
                        holders[partition].append(member.name)
            for partition in range(self.partitions):
                names = holders.get(partition, [])
                if len(names) > 1:
                    self.breaches.append(f"partition {partition} held by {names} at once")
                if names:
                    last_held[partition] = now
                self.longest_gap = max(self.longest_gap, now - last_held[partition])
            self.samples += 1
            await anyio.sleep(0.002)


def holding(members: list[Member]) -> dict[str, frozenset[int]]:
    return {m.name: m.leases.held for m in members if m.alive}


def spread(members: list[Member], partitions: int) -> bool:
    """Every partition held by exactly one live member, shares differing by one at most."""
    held = [m.leases.held for m in members if m.alive]
    everyone = [p for h in held for p in h]
    sizes = [len(h) for h in held]
    return sorted(everyone) == list(range(partitions)) and max(sizes) - min(sizes) <= 1


def keys_for(partitions: int) -> PartitionKeys:
    return PartitionKeys("typed-events:", "order_placed", "billing:on_order", partitions)


async def start(group: TaskGroup, member: Member) -> Member:
    await group.start(member.run)
    return member


def test_shares_are_even_and_every_member_computes_the_same_split() -> None:
    for count in range(1, 9):
        names = [f"m{i}" for i in range(count)]
        shares = [assignment(names, name, 16) for name in names]
        assert sorted(p for share in shares for p in share) == list(range(16))
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
        assert shares == [assignment(list(reversed(names)), name, 16) for name in names]
    assert assignment([], "alone", 4) == frozenset(range(4))  # a member counts itself


def crc16(data: bytes) -> int:
    """CRC16-XMODEM, the checksum Redis Cluster maps keys to slots with."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def slot(key: str) -> int:
    """The cluster slot of ``key``: of its hash tag when it has a non-empty one."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    tagged = key[start + 1 : end] if start >= 0 and end > start + 1 else key
    return crc16(tagged.encode()) % 16384


def test_on_a_cluster_a_partitions_stream_lease_and_fence_share_one_slot() -> None:
    assert slot("123456789") == 0x31C3  # the CRC16 check value: our slot function is Redis's
    keys = PartitionKeys("typed-events:", "order_placed", "billing:{on_order}", 16, cluster=True)
    assert keys.stream(3) == "{typed-events:order_placed:3}"  # as DESIGN section 13 says
    slots: set[int] = set()
    for p in range(16):
        assert slot(keys.lease(p)) == slot(keys.fence(p)) == slot(keys.stream(p))
        slots.add(slot(keys.stream(p)))
    assert len(slots) == 16  # the partitions spread over the slots (and so the primaries)
    plain = keys_for(16)
    assert plain.stream(3) == "typed-events:order_placed:3"
    assert plain.lease(3) == "typed-events:order_placed:3:lease:billing:on_order"
    assert plain.members == "typed-events:order_placed:members:billing:on_order"
    assert keys.members == "{typed-events:order_placed}:members:billing:{on_order}"


def test_bad_layouts_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="contains a brace"):
        PartitionKeys("te{x}:", "order_placed", "g", 4, cluster=True)
    with pytest.raises(ConfigurationError, match="contains a brace"):
        partition_stream_key("{te}:", "order_placed", 0, cluster=True)
    with pytest.raises(ConfigurationError, match="partitions must be an int >= 1"):
        PartitionKeys("te:", "order_placed", "g", 0)
    with pytest.raises(ConfigurationError, match=r"partition 4 of event 'order_placed'"):
        keys_for(4).lease(4)
    with pytest.raises(ConfigurationError, match="partition must be an int >= 0"):
        partition_stream_key("te:", "order_placed", -1, cluster=False)


async def test_a_lone_member_holds_every_partition_and_releases_them_on_leaving(
    redis_server: RedisServer,
) -> None:
    work = Work()
    keys = keys_for(4)
    async with connected(redis_server) as client, anyio.create_task_group() as group:
        member = await start(group, Member(client, keys, "solo", work))
        assert member.leases.held == frozenset(range(4))  # started: held what was free
        leases = await describe(client, keys)
        assert [info.holder for info in leases] == ["solo"] * 4
        assert all(info.expires_in is not None and 0 < info.expires_in <= LEASE for info in leases)
        assert [info.token for info in leases] == [member.leases.token(p) for p in range(4)]
        assert [m.member for m in await members(client, keys)] == ["solo"]
        await member.leases.release_all()
        assert member.leases.held == frozenset()
        assert sorted(p for _, p in work.released) == [0, 1, 2, 3]
        assert [info.holder for info in await describe(client, keys)] == [None] * 4
        assert await members(client, keys) == []
    assert work.breaches == []
    assert work.lost == []


async def test_at_most_one_member_holds_a_partition_through_joins_leaves_and_deaths(
    redis_server: RedisServer,
) -> None:
    partitions = 8
    work = Work()
    keys = keys_for(partitions)
    everyone: list[Member] = []
    sampler = Sampler(everyone, partitions, work.breaches)
    async with connected(redis_server) as client, anyio.create_task_group() as group:
        group.start_soon(sampler.run)
        for n in range(3):
            everyone.append(await start(group, Member(client, keys, f"m{n}", work)))
        for step in range(9):  # churn: a join each step, then a death or a planned leave
            everyone.append(await start(group, Member(client, keys, f"j{step}", work)))
            await anyio.sleep(HEARTBEAT)
            alive = [m for m in everyone if m.alive]
            victim = alive[step % len(alive)]
            if step % 2:
                victim.kill()
            else:
                await victim.leases.release_all()
                victim.alive = False
            await anyio.sleep(HEARTBEAT)
        await eventually(lambda: spread(everyone, partitions), "the survivors to share all")
        group.cancel_scope.cancel()
    assert work.breaches == []
    assert sampler.samples > 100  # the sampler really looked, all along
    assert work.lost == []  # nobody stalled: no lease ran out under a live holder


async def test_leases_rebalance_evenly_from_one_member_to_four_to_two(
    redis_server: RedisServer,
) -> None:
    partitions = 16
    work = Work()
    keys = keys_for(partitions)
    everyone: list[Member] = []
    sampler = Sampler(everyone, partitions, work.breaches)
    async with connected(redis_server) as client, anyio.create_task_group() as group:
        everyone.append(await start(group, Member(client, keys, "a", work)))
        assert everyone[0].leases.held == frozenset(range(partitions))
        group.start_soon(sampler.run)
        for name in "bcd":
            everyone.append(await start(group, Member(client, keys, name, work)))
        await eventually(lambda: spread(everyone, partitions), "four members to share evenly")
        assert {len(h) for h in holding(everyone).values()} == {4}
        for leaving in everyone[1:3]:
            await leaving.leases.release_all()
            leaving.alive = False
        await eventually(lambda: spread(everyone, partitions), "two members to share evenly")
        assert holding(everyone) == {
            "a": frozenset(range(0, partitions, 2)),
            "d": frozenset(range(1, partitions, 2)),
        }
        group.cancel_scope.cancel()
    assert work.breaches == []
    assert work.lost == []
    # Joins and planned leaves hand a partition over at the next heartbeat of its new
    # holder; the documented bound for any hand-over is lease_time.
    assert sampler.longest_gap < LEASE


async def test_a_dead_members_partitions_move_after_its_lease_expires(
    redis_server: RedisServer,
) -> None:
    partitions = 8
    work = Work()
    keys = keys_for(partitions)
    moved_after = math.inf
    async with connected(redis_server) as client, anyio.create_task_group() as group:
        survivor = await start(group, Member(client, keys, "survivor", work))
        doomed = await start(group, Member(client, keys, "doomed", work))
        everyone = [survivor, doomed]
        await eventually(lambda: spread(everyone, partitions), "two members to share")
        orphaned = doomed.leases.held
        doomed_tokens = {p: doomed.leases.token(p) or 0 for p in orphaned}
        doomed.kill()
        died = anyio.current_time()
        # Silent is not dead yet: its leases stay its own until they expire.
        leases = await describe(client, keys)
        assert {info.partition for info in leases if info.holder == "doomed"} == orphaned
        assert not survivor.leases.held & orphaned
        await eventually(
            lambda: survivor.leases.held == frozenset(range(partitions)),
            "the survivor to take the dead member's partitions",
        )
        moved_after = anyio.current_time() - died
        assert all((survivor.leases.token(p) or 0) > doomed_tokens[p] for p in orphaned)
        group.cancel_scope.cancel()
    # The documented bound is lease_time plus one heartbeat; one more heartbeat covers the
    # commands the dead member had in flight and this test's own polling.
    assert moved_after < LEASE + 2 * HEARTBEAT
    assert work.breaches == []
    assert work.lost == []


async def test_a_lease_is_released_only_after_the_work_in_flight_on_it_finished(
    redis_server: RedisServer,
) -> None:
    partitions = 4
    work = Work()
    keys = keys_for(partitions)
    moving = assignment(["first", "second"], "second", partitions)
    async with connected(redis_server) as client, anyio.create_task_group() as group:
        first = await start(group, Member(client, keys, "first", work))
        assert first.leases.held == frozenset(range(partitions))
        gates = {p: anyio.Event() for p in range(partitions)}
        work.gate.update(gates)
        second = await start(group, Member(client, keys, "second", work))
        await eventually(lambda: first.leases.assigned == frozenset(range(partitions)) - moving,
                         "the first member to see its share shrink")  # fmt: skip
        await anyio.sleep(2 * LEASE)  # longer than a lease: renewals go on while it drains
        assert first.leases.held == frozenset(range(partitions))
        assert second.leases.held == frozenset()
        leases = await describe(client, keys)
        assert [info.holder for info in leases] == ["first"] * partitions
        for partition in moving:
            gates[partition].set()  # the in-flight work finishes
        await eventually(lambda: second.leases.held == moving, "the second member to take over")
        group.cancel_scope.cancel()
    assert work.breaches == []
    assert work.lost == []
    assert sorted(p for name, p in work.released if name == "first") == sorted(moving)


async def test_a_lease_deleted_under_its_holder_is_reported_lost_and_taken_again(
    redis_server: RedisServer,
) -> None:
    work = Work()
    keys = keys_for(2)
    before = after = None
    async with connected(redis_server) as client, anyio.create_task_group() as group:
        member = await start(group, Member(client, keys, "m", work))
        before = member.leases.token(1)
        await client.delete([keys.lease(1)])  # an operator's FLUSHDB, a wrong script
        await eventually(lambda: ("m", 1) in work.lost, "the holder to hear the lease is lost")
        await eventually(lambda: 1 in member.leases.held, "the lease taken again")
        after = member.leases.token(1)
        group.cancel_scope.cancel()
    assert before is not None
    assert after is not None
    assert after > before
    assert work.lost == [("m", 1)]


async def test_a_holder_cut_off_from_redis_stops_trusting_its_leases_before_they_expire(
    redis_server: RedisServer,
) -> None:
    work = Work()
    keys = keys_for(2)
    async with connected(redis_server) as client, anyio.create_task_group() as group:
        member = await start(group, Member(client, keys, "m", work))
        lost_at = math.inf

        def all_lost() -> bool:
            nonlocal lost_at
            if len(work.lost) == 2 and lost_at == math.inf:
                lost_at = anyio.current_time()
            return len(work.lost) == 2

        cut = anyio.current_time()
        redis_server.stop(kill=True)
        await eventually(all_lost, "the member to give up both leases")
        assert member.leases.held == frozenset()
        # It let go within the lease's lifetime after its last renewal (before the cut):
        # before Redis itself could have given the partitions to another member.
        assert lost_at - cut < LEASE
        await anyio.to_thread.run_sync(redis_server.start)
        await eventually(lambda: member.leases.held == frozenset({0, 1}), "leases taken again")
        group.cancel_scope.cancel()
    assert sorted(work.lost) == [("m", 0), ("m", 1)]


async def test_bad_settings_and_a_second_run_are_refused(redis_server: RedisServer) -> None:
    async with connected(redis_server) as client:
        with pytest.raises(ConfigurationError, match="member must be a non-empty name"):
            PartitionLeases(client, keys_for(2), member="", lease_time=LEASE)
        with pytest.raises(ConfigurationError, match="lease_time must be seconds > 0"):
            PartitionLeases(client, keys_for(2), member="m", lease_time=0)
        leases = PartitionLeases(client, keys_for(2), member="m", lease_time=LEASE)
        async with anyio.create_task_group() as group:
            await group.start(leases.run)
            assert leases.live_members == ("m",)
            with pytest.raises(UsageError, match="'m' is already running"):
                await leases.run()
            await leases.release_all()


async def test_release_all_after_a_cancelled_run_still_finishes_and_frees_the_leases(
    redis_server: RedisServer,
) -> None:
    finished: list[tuple[int, bool]] = []

    async def on_release(partition: int, lost: bool) -> None:
        finished.append((partition, lost))

    keys = keys_for(2)
    async with connected(redis_server) as client:
        leases = PartitionLeases(client, keys, member="m", lease_time=LEASE, on_release=on_release)
        async with anyio.create_task_group() as group:
            await group.start(leases.run)
            group.cancel_scope.cancel()  # the consumer's task group was cancelled
        assert leases.held == frozenset({0, 1})  # not released: they would expire
        await leases.release_all()
        assert sorted(finished) == [(0, False), (1, False)]
        assert leases.held == frozenset()
        assert [info.holder for info in await describe(client, keys)] == [None, None]
        assert await members(client, keys) == []
