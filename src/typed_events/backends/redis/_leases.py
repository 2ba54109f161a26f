"""Partition leases: at most one member of a consumer group holds a partition at a time.

Part of :mod:`typed_events.backends.redis`. Every process consuming an ordered listener
is a *member* of its group. Each ``lease_time / 3`` seconds a member

1. renews the leases it holds (compare-and-PEXPIRE: only a lease still naming it);
2. heartbeats into the group's membership, a sorted set scored by expiry in the Redis
   server's clock (``TIME`` inside the script), so the members' clocks never matter;
3. ranks the live members by name and takes partition ``p`` as its share when
   ``p % len(members)`` is its rank: the same view gives every member the same, even
   split (shares differ by one partition at most);
4. asks its ``on_release`` hook to finish each held partition no longer in its share,
   and deletes that lease (compare-and-DEL) only once the hook returned, i.e. once no
   work on the partition is in flight;
5. takes each partition of its share that nobody holds (``SET NX PX`` in a script,
   numbered by ``INCR``: the fencing token) and tells its ``on_acquired`` hook.

So the lease key, not the members' views, decides who holds: views that disagree for a
moment make a member wait a heartbeat, never two members hold. A member that dies keeps
its leases until they expire, ``lease_time`` after its last renewal; its membership
expires with them, and the member whose share the partition becomes takes it at its next
heartbeat: within ``lease_time`` plus one heartbeat. A member stops counting a partition
as held ``0.8 * lease_time`` after the last renewal it *sent* without an answer since
(a stalled process or an unreachable Redis), before Redis can give the lease to another,
and then tells ``on_release`` the lease is lost.

On Redis Cluster each script touches the keys of one slot only: a partition's lease and
fencing counter (in its stream's slot, see :mod:`._partitions`), or the membership set.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import TaskGroup, TaskStatus
from coredis.client import Client
from coredis.exceptions import RedisError

from typed_events._settings import require_seconds
from typed_events.backends.redis._lease_scripts import LeaseScripts
from typed_events.backends.redis._partitions import PartitionKeys
from typed_events.errors import ConfigurationError, UsageError

__all__ = ["PartitionLeases", "assignment"]

logger = logging.getLogger("typed_events")

_REDIS_ERRORS = (RedisError, OSError, TimeoutError)
# The share of lease_time a member trusts a renewal it sent: Redis starts counting only
# when the renewal arrives, so ending sooner keeps a slow or stalled member from
# believing in a lease that Redis has already given to another.
_TRUSTED_SHARE = 0.8

OnAcquired = Callable[[int, int], Awaitable[object]]
"""``on_acquired(partition, token)``: start work on a partition just taken."""
OnRelease = Callable[[int, bool], Awaitable[object]]
"""``on_release(partition, lost)``: return once no work on the partition is in flight."""


async def _nothing(partition: int, detail: object) -> None:
    """The default hook: a member with no work to start or finish."""


@dataclass
class _Lease:
    """A lease this member holds: the value naming it in Redis, and how long to trust it."""

    token: int
    value: bytes
    trusted_until: float


def assignment(live_members: Sequence[str], member: str, partitions: int) -> frozenset[int]:
    """The partitions that are ``member``'s share among ``live_members``.

    Members are ranked by name; partition ``p`` goes to rank ``p % len(members)``. Every
    member computing this from the same view agrees, and shares differ by one at most.
    """
    ranked = sorted(set(live_members) | {member})
    rank, count = ranked.index(member), len(ranked)
    return frozenset(p for p in range(partitions) if p % count == rank)


class PartitionLeases:
    """One member's leases on the partitions of one event, for one consumer group.

    ``run()`` keeps them (see the module docstring for the protocol); ``held`` is the set
    this member may work on right now. Hooks run in tasks of ``run()``'s own, so a slow
    ``on_release`` delays only its partition's hand-over while renewals go on.

    :param client: an entered coredis client (``async with client:``) that does not
        decode responses; a :class:`coredis.RedisCluster` on a cluster.
    :param keys: the key layout of this event and group.
    :param member: this member's name, unique among the group's processes.
    :param lease_time: seconds a lease (and a membership) lasts without a heartbeat:
        the backend's ``claim_idle``. Heartbeats come every ``lease_time / 3``.
    :param on_acquired: awaited with ``(partition, token)`` after a lease is taken;
        start the partition's reader and return promptly.
    :param on_release: awaited with ``(partition, lost)``: stop taking work from the
        partition and return once none is in flight; the lease is deleted after it
        returns. ``lost=True``: the lease could not be renewed in time and may already
        be another member's; stop at once.
    :raises ConfigurationError: for a bad ``lease_time`` or ``member``.
    """

    def __init__(
        self,
        client: Client[bytes],
        keys: PartitionKeys,
        *,
        member: str,
        lease_time: float,
        on_acquired: OnAcquired = _nothing,
        on_release: OnRelease = _nothing,
    ) -> None:
        require_seconds("lease_time", lease_time, positive=True)
        if not isinstance(member, str) or not member:
            raise ConfigurationError(f"member must be a non-empty name, got {member!r}")
        self.keys = keys
        self.member = member
        self.lease_time = lease_time
        self._ttl_ms = max(math.ceil(lease_time * 1000), 1)
        self._interval = lease_time / 3
        self._on_acquired = on_acquired
        self._on_release = on_release
        self._scripts = LeaseScripts(client)
        self._held: dict[int, _Lease] = {}
        self._releasing: set[int] = set()
        self._assigned: frozenset[int] = frozenset()
        self._members: tuple[str, ...] = ()
        self._leaving = False
        self._running = False
        self._wake = anyio.Event()
        self._stopped = anyio.Event()
        self._tasks: TaskGroup | None = None

    @property
    def held(self) -> frozenset[int]:
        """The partitions this member holds a trusted lease on: the ones it may work on."""
        return frozenset(self._held)

    @property
    def assigned(self) -> frozenset[int]:
        """This member's share as of its last heartbeat (held once their holders let go)."""
        return self._assigned

    @property
    def live_members(self) -> tuple[str, ...]:
        """The group's live members as of the last heartbeat, by name."""
        return self._members

    def token(self, partition: int) -> int | None:
        """The fencing token of the lease held on ``partition``; None if not held."""
        lease = self._held.get(partition)
        return None if lease is None else lease.token

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Join the group and keep this member's leases until :meth:`release_all`.

        Reports started (``task_group.start``) after the first heartbeat, holding what
        was free of its share. Cancelled, it leaves its leases to expire after
        ``lease_time``: call :meth:`release_all` for a prompt hand-over.
        """
        if self._running:
            raise UsageError(f"PartitionLeases of {self.member!r} is already running")
        self._running, self._stopped = True, anyio.Event()
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                tasks.start_soon(self._watch_trust)
                await self._tick()
                task_status.started()
                while not self._leaving or self._held or self._releasing:
                    with anyio.move_on_after(self._interval):
                        await self._wake.wait()
                    self._wake = anyio.Event()
                    await self._tick()
                tasks.cancel_scope.cancel()  # only the trust watch is left
        finally:
            self._running, self._tasks = False, None
            self._stopped.set()

    async def release_all(self) -> None:
        """Leave the group: finish and release every held partition, then return.

        With :meth:`run` running, it asks it to leave and waits until it has; others take
        the partitions at their next heartbeat. Without, it releases what is still held.
        """
        self._leaving = True
        if self._running:
            self._wake.set()
            await self._stopped.wait()
            return
        for partition, lease in list(self._held.items()):
            await self._on_release(partition, False)
            await self._let_go(partition, lease)
        await self._beat()

    async def _tick(self) -> None:
        """One heartbeat: renew, refresh the membership, let go, take."""
        with anyio.move_on_after(self.lease_time) as scope:
            try:
                await self._renew_all()
                self._members = await self._beat()
                share = frozenset[int]() if self._leaving else self._share()
                self._assigned = share
                for partition in sorted(self._held.keys() - share - self._releasing):
                    self._start_release(partition, lost=False)
                if not self._leaving:
                    await self._each(
                        self._take, sorted(share - self._held.keys() - self._releasing)
                    )
            except _REDIS_ERRORS as exc:
                logger.warning(
                    "partition leases of %s for group %s (event %r): Redis failed (%s); "
                    "retrying at the next heartbeat, held leases stay trusted for "
                    "%.3gs after their last renewal",
                    self.member, self.keys.group, self.keys.event_id, exc,
                    self.lease_time * _TRUSTED_SHARE,
                )  # fmt: skip
        if scope.cancelled_caught:
            logger.warning(
                "partition leases of %s for group %s (event %r): a heartbeat took longer "
                "than lease_time (%ss); retrying",
                self.member, self.keys.group, self.keys.event_id, self.lease_time,
            )  # fmt: skip

    def _share(self) -> frozenset[int]:
        return assignment(self._members, self.member, self.keys.partitions)

    async def _beat(self) -> tuple[str, ...]:
        return await self._scripts.heartbeat(
            self.keys.members, self.member, self._ttl_ms, join=not self._leaving
        )

    async def _each(self, step: Callable[[int], Awaitable[None]], partitions: list[int]) -> None:
        """``step(p)`` for each partition at once; the first Redis failure is re-raised.

        At once, not one after another: in a busy process each round trip waits its turn
        in the event loop, and sixteen in a row can outlast the trust of the first lease.
        """
        failures: list[BaseException] = []

        async def run(partition: int) -> None:
            try:
                await step(partition)
            except _REDIS_ERRORS as exc:
                failures.append(exc)

        async with anyio.create_task_group() as steps:
            for partition in partitions:
                steps.start_soon(run, partition)
        if failures:
            raise failures[0]

    async def _renew_all(self) -> None:
        await self._each(self._renew, list(self._held))

    async def _renew(self, partition: int) -> None:
        lease = self._held.get(partition)
        if lease is None:
            return
        sent = anyio.current_time()
        renewed = await self._scripts.renew(self.keys.lease(partition), lease.value, self._ttl_ms)
        if self._held.get(partition) is not lease:
            return  # let go or lost meanwhile: a late answer changes nothing
        if renewed:
            lease.trusted_until = sent + self.lease_time * _TRUSTED_SHARE
        else:
            logger.warning(
                "partition %d of event %r (group %s): the lease of %s was gone at "
                "renewal; stopping work on it",
                partition, self.keys.event_id, self.keys.group, self.member,
            )  # fmt: skip
            self._lose(partition, lease)

    async def _take(self, partition: int) -> None:
        sent = anyio.current_time()
        token = await self._scripts.acquire(
            self.keys.lease(partition), self.keys.fence(partition), self.member, self._ttl_ms
        )
        if token <= 0:
            return  # held by another member, which lets go once its share says so
        value = f"{token}:{self.member}".encode()
        self._held[partition] = _Lease(token, value, sent + self.lease_time * _TRUSTED_SHARE)
        with anyio.CancelScope(shield=True):  # a heartbeat's timeout must not cut it short
            await self._on_acquired(partition, token)

    def _start_release(self, partition: int, *, lost: bool) -> None:
        assert self._tasks is not None  # only called while run() runs
        self._releasing.add(partition)
        self._tasks.start_soon(self._finish, partition, self._held[partition], lost)

    def _lose(self, partition: int, lease: _Lease) -> None:
        """Stop trusting a lease now; its hook, if not already finishing, hears it is lost."""
        del self._held[partition]
        if partition not in self._releasing:
            assert self._tasks is not None
            self._releasing.add(partition)
            self._tasks.start_soon(self._finish, partition, lease, True)

    async def _finish(self, partition: int, lease: _Lease, lost: bool) -> None:
        await self._on_release(partition, lost)
        if self._held.get(partition) is lease:
            await self._let_go(partition, lease)
        self._releasing.discard(partition)
        self._wake.set()

    async def _let_go(self, partition: int, lease: _Lease) -> None:
        # Stop counting it as held before Redis frees it: nobody can hold it sooner.
        del self._held[partition]
        try:
            await self._scripts.release(self.keys.lease(partition), lease.value)
        except _REDIS_ERRORS as exc:
            logger.warning(
                "partition %d of event %r (group %s): could not release the lease of %s "
                "(%s); it expires after lease_time",
                partition, self.keys.event_id, self.keys.group, self.member, exc,
            )  # fmt: skip

    async def _watch_trust(self) -> None:
        """Stop trusting each lease when its trusted time runs out without a renewal."""
        while True:
            now = anyio.current_time()
            for partition, lease in list(self._held.items()):
                if lease.trusted_until <= now:
                    logger.warning(
                        "partition %d of event %r (group %s): %s could not renew its lease "
                        "in time; stopping work on it (it expires in Redis soon)",
                        partition, self.keys.event_id, self.keys.group, self.member,
                    )  # fmt: skip
                    self._lose(partition, lease)
            # A new lease is trusted longer than every held one, so no deadline is missed.
            soonest = min((lease.trusted_until for lease in self._held.values()), default=math.inf)
            await anyio.sleep_until(min(soonest, now + self._interval))
