"""The write fence: has a batch of XADDs reached a replica, so a failover keeps it?

Part of :mod:`typed_events.backends.redis`. Redis acknowledges an XADD once its primary
has it; the replica gets it a moment later. A primary killed in between takes the entry
with it: the replica that takes over never had it, and the old primary, back as a replica,
drops it too (``appendfsync always`` does not help). Pipelined XADDs cannot be confirmed
one by one (coredis sends no ``WAIT`` after a pipeline), so after a batch the writer runs
one fence per stream the batch touched::

    EVAL  (XRANGE stream last_id last_id; INCR the fence key)   then   WAIT replicas timeout

A primary replicates its writes in order, so a replica that has the fence's INCR has every
entry acknowledged before it on that stream's primary. The XRANGE check keeps a fence that
lands on a promoted replica (after the batch was lost) from confirming a batch that is not
there. Cost: one round trip and one WAIT per stream per batch, not per event.
"""

from __future__ import annotations

import enum

import coredis
from coredis._utils import hash_slot
from coredis.exceptions import RedisError, ReplicationError

from typed_events._settings import require_int

__all__ = [
    "FenceClient",
    "FenceResult",
    "NotConfirmedError",
    "confirm_written",
    "write_fence_key",
]

FenceClient = coredis.Redis[bytes] | coredis.RedisCluster[bytes]
"""Either client: the fence is the same command on one node and on a cluster."""

# KEYS[1] the stream, KEYS[2] its fence key (one slot); ARGV[1] the batch's last entry id.
# Plain EVAL, not EVALSHA: coredis loads a missing script on every node, which fails while
# any node is down (mid-failover), and a node restarted on its data has no scripts.
_FENCE = """
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
redis.call('INCR', KEYS[2])
return 1
"""


class FenceResult(enum.Enum):
    """What the fence found out about the batch that ends with ``last_id``."""

    CONFIRMED = "confirmed"
    """It is on the primary and (with ``replicas`` > 0) on that many replicas: the emits
    can complete."""
    NOT_CONFIRMED = "not confirmed"
    """It is on the primary, but fewer replicas than asked acknowledged it in time (a
    replica lagging or gone; right after a failover the promoted primary has none): keep
    the batch and run the fence again."""
    LOST = "lost"
    """It is not on the stream's primary: a failover (or a restart without its data) lost
    it. Write the batch again; consumers dedupe by CloudEvents id, so that is safe."""


class NotConfirmedError(ReplicationError):
    """No replica (or too few) confirmed a batch of ``stream`` in time; the writer keeps
    the batch and fences again (an outage, as far as the emits waiting on it go)."""

    def __init__(self, stream: str, replicas: int, timeout_ms: int) -> None:
        slot = hash_slot(stream.encode())
        RedisError.__init__(  # ReplicationError's own __init__ wants the command
            self,
            f"no replica confirmed the write to stream {stream!r} (cluster slot {slot}) "
            f"within {timeout_ms} ms (replicas={replicas} asked); the primary of that slot "
            "has fewer replicas in sync (right after a failover it has none until the "
            "old primary rejoins). The events wait for confirmation; to accept writes "
            "without it, lower RedisStreamsBackend(replicas=...)",
        )
        self.stream = stream
        self.slot = slot


def write_fence_key(stream: str) -> str:
    """The write fence of ``stream``: ``{typed-events:order_placed:3}:fence``.

    On a cluster the stream's name is a whole hash tag (see ``partition_stream_key``), so
    the fence shares its slot, as one script needs; this holds for the stream of an
    unpartitioned event too (``{typed-events:order_placed}:fence``). Distinct from the
    lease fencing counters, ``...:fence:GROUP``.
    """
    return f"{stream}:fence"


async def confirm_written(
    client: FenceClient,
    stream: str,
    fence_key: str,
    last_id: str | bytes,
    replicas: int,
    timeout_ms: int,
) -> FenceResult:
    """Find out whether the entries written to ``stream`` up to ``last_id`` survive a
    failover: confirmed by ``replicas`` replicas within ``timeout_ms``, not (yet), or lost.

    ``replicas=0`` (a single node, or a cluster run without the guarantee) sends no WAIT
    and writes nothing: one XRANGE tells ``CONFIRMED`` (the entry is there, which is all
    an acknowledged write promises then) from ``LOST``.

    :param fence_key: :func:`write_fence_key` of ``stream``; on a cluster it must share
        the stream's slot.
    :param last_id: the id Redis gave the batch's last XADD to ``stream``.
    :param timeout_ms: how long WAIT waits for the replicas (> 0: ``WAIT n 0`` would
        block for ever).
    :raises coredis.exceptions.RedisError: when the stream's primary cannot be reached
        (ConnectionError, ClusterDownError, ...): the caller's retry loop backs off and
        fences again; a cross-slot ``fence_key`` raises ClusterCrossSlotError.
    """
    require_int("replicas", replicas, 0)
    require_int("timeout_ms", timeout_ms, 1)
    if replicas == 0:
        return await _present(client, stream, last_id)
    try:
        with client.ensure_replication(replicas, timeout_ms):
            found = await client.eval(_FENCE, keys=[stream, fence_key], args=[last_id])
    except ReplicationError:
        # The script ran, its reply is lost with the error; a WAIT can come back short even
        # when the script wrote nothing (the entry is gone and the primary has no replica).
        result = await _present(client, stream, last_id)
        return FenceResult.NOT_CONFIRMED if result is FenceResult.CONFIRMED else result
    return FenceResult.CONFIRMED if found == 1 else FenceResult.LOST


async def _present(client: FenceClient, stream: str, last_id: str | bytes) -> FenceResult:
    entries = await client.xrange(stream, last_id, last_id, count=1)
    return FenceResult.CONFIRMED if entries else FenceResult.LOST
