"""What partition leases keep in Redis: the Lua scripts, with their replies typed, and
the read-outs of who holds what (for the CLI).

Part of :mod:`typed_events.backends.redis`; the protocol that uses them is in
:mod:`._leases`. Each script touches the keys of one cluster slot only: a partition's
lease and fencing counter, or a group's membership set (see :mod:`._partitions`). A
lease's value is ``TOKEN:MEMBER``; times come from the server (``TIME``, ``PTTL``), so
the members' clocks never matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from coredis.client import Client

from typed_events.backends.redis._partitions import PartitionKeys

__all__ = ["LeaseInfo", "LeaseScripts", "MemberInfo", "describe", "members"]

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: members. ARGV: member, ttl ms, '1' to join or stay, '0' to leave.
_HEARTBEAT = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[3] == '1' then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
    if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
    end
else
    redis.call('ZREM', KEYS[1], ARGV[1])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
)

# KEYS: members. Read-only: the live members and their expiries.
_MEMBERS = (
    _NOW_MS
    + """
return {now, redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')}
"""
)

# KEYS: lease, fence. ARGV: member, ttl ms. Returns the new token, or 0 if another holds.
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, string.find(current, ':', 1, true) + 1) ~= ARGV[1] then
    return 0
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token
"""

# KEYS: lease. ARGV: the holder's value, ttl ms. 1 if still held and renewed, else 0.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS: lease. ARGV: the holder's value. 1 if it was still held and is now free, else 0.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: lease. Read-only: its value (or nil) and its PTTL.
_INSPECT = "return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}"


async def _run(
    client: Client[bytes], script: str, keys: list[str], args: list[str | int | bytes]
) -> object:
    # Plain EVAL, not EVALSHA: coredis loads a missing script on every node of a cluster,
    # which fails while any node is down (mid-failover), and a restarted node has none.
    # The scripts are small and run a few times per lease_time.
    return await client.eval(script, keys=keys, args=args)


def _items(reply: object) -> list[object]:
    """A script's array reply as a list (empty for anything else)."""
    return cast(list[object], reply) if isinstance(reply, list) else []


class LeaseScripts:
    """The lease scripts, registered on one client, each returning a typed answer.

    :param client: a client that does not decode responses.
    """

    def __init__(self, client: Client[bytes]) -> None:
        self._client = client

    async def heartbeat(
        self, members_key: str, member: str, ttl_ms: int, *, join: bool
    ) -> tuple[str, ...]:
        """Stay in (``join``) or leave the membership; the live members, by name."""
        reply = await _run(
            self._client, _HEARTBEAT, [members_key], [member, ttl_ms, "1" if join else "0"]
        )
        return tuple(sorted(n.decode() for n in _items(reply) if isinstance(n, bytes)))

    async def acquire(self, lease_key: str, fence_key: str, member: str, ttl_ms: int) -> int:
        """Take a free lease (or a new one over this member's own); its token, 0 if held."""
        reply = await _run(self._client, _ACQUIRE, [lease_key, fence_key], [member, ttl_ms])
        return reply if isinstance(reply, int) else 0

    async def renew(self, lease_key: str, value: bytes, ttl_ms: int) -> bool:
        """Extend a lease that still holds ``value``; False if it is gone or another's."""
        reply = await _run(self._client, _RENEW, [lease_key], [value, ttl_ms])
        return reply == 1

    async def release(self, lease_key: str, value: bytes) -> bool:
        """Delete a lease that still holds ``value``; False if it was gone or another's."""
        reply = await _run(self._client, _RELEASE, [lease_key], [value])
        return reply == 1


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds one partition, as :func:`describe` read it.

    :ivar partition: the partition.
    :ivar holder: the member holding it, or None if nobody does.
    :ivar token: the fencing token of the current lease (grows with each new lease).
    :ivar expires_in: seconds until the lease expires unless renewed; None if free.
    """

    partition: int
    holder: str | None
    token: int | None
    expires_in: float | None


@dataclass(frozen=True)
class MemberInfo:
    """A live member of a group, as :func:`members` read it.

    :ivar member: its name (the backend's consumer name).
    :ivar expires_in: seconds until it counts as gone unless it heartbeats.
    """

    member: str
    expires_in: float


async def describe(client: Client[bytes], keys: PartitionKeys) -> list[LeaseInfo]:
    """Who holds each partition of ``keys``, in partition order."""
    found: list[LeaseInfo] = []
    for partition in range(keys.partitions):
        reply = await _run(client, _INSPECT, [keys.lease(partition)], [])
        value, ttl = [*_items(reply), None, None][:2]
        if not isinstance(value, bytes):
            found.append(LeaseInfo(partition, None, None, None))
            continue
        token, _, holder = value.partition(b":")
        expires_in = ttl / 1000 if isinstance(ttl, int) and ttl >= 0 else None
        found.append(LeaseInfo(partition, holder.decode(), int(token), expires_in))
    return found


async def members(client: Client[bytes], keys: PartitionKeys) -> list[MemberInfo]:
    """The group's live members, by name, with the time each has left without a heartbeat."""
    reply = await _run(client, _MEMBERS, [keys.members], [])
    now, flat = [*_items(reply), 0, None][:2]
    if not isinstance(now, int):
        return []
    pairs = _items(flat)
    live = [
        MemberInfo(name.decode(), (int(score) - now) / 1000)
        for name, score in zip(pairs[::2], pairs[1::2], strict=True)
        if isinstance(name, bytes) and isinstance(score, bytes)
    ]
    return sorted(live, key=lambda info: info.member)
