"""Key layout of a partitioned event: its streams and the lease bookkeeping beside them.

Part of :mod:`typed_events.backends.redis`. Partition ``p`` of event ``order_placed``
with prefix ``typed-events:``, consumer group ``billing:on_order``::

    single node                                  Redis Cluster (hash tags)
    typed-events:order_placed:3                  {typed-events:order_placed:3}
    typed-events:order_placed:3:lease:GROUP      {typed-events:order_placed:3}:lease:GROUP
    typed-events:order_placed:3:fence:GROUP      {typed-events:order_placed:3}:fence:GROUP
    typed-events:order_placed:members:GROUP      {typed-events:order_placed}:members:GROUP
    typed-events:order_placed:partitions         {typed-events:order_placed}:partitions

On a cluster only the part between the first ``{`` and the next ``}`` picks the slot,
so a partition's stream, lease and fencing counter share one slot (one Lua script may
touch them together) while the partitions spread over the primaries. The membership
set of a group lives in a slot of its own; no script touches it with a lease key.
"""

from __future__ import annotations

from dataclasses import dataclass

from typed_events._settings import require_int
from typed_events.backends.redis._keys import hash_tagged as _tagged
from typed_events.errors import ConfigurationError

__all__ = ["PartitionKeys", "partition_count_key", "partition_of_stream", "partition_stream_key"]


def partition_stream_key(prefix: str, event_id: str, partition: int, *, cluster: bool) -> str:
    """The stream of one partition of ``event_id``.

    ``typed-events:order_placed:3``; with ``cluster=True`` the whole name is a hash tag,
    ``{typed-events:order_placed:3}``, so every key built on it (see
    :class:`PartitionKeys`) lands in that stream's slot.

    :raises ConfigurationError: for a negative partition, or on a cluster a prefix with
        ``{`` or ``}`` (it would cut the hash tag short).
    """
    require_int("partition", partition, 0)
    name = f"{prefix}{event_id}:{partition}"
    return _tagged(name, prefix) if cluster else name


def partition_of_stream(
    prefix: str, name: str, *, event_id: str | None = None
) -> tuple[str, int] | None:
    """The event id and partition of a partition stream, read back from its name.

    The inverse of :func:`partition_stream_key`, for either form:
    ``typed-events:order_placed:3`` and ``{typed-events:order_placed:3}`` both give
    ``("order_placed", 3)``. Any other name (an event's unpartitioned stream, the
    dead-letter stream, a lease or fence key, another prefix) gives None.

    :param event_id: the event the stream's message belongs to, when known. An event id
        may itself end in ``:<digits>``, so ``typed-events:x:3`` is partition 3 of ``x``
        or the unpartitioned stream of ``x:3``; knowing the event settles it.
    """
    tagged = name.startswith("{") and name.endswith("}")
    if tagged and "{" not in prefix and "}" not in prefix:  # a cluster prefix has no brace
        name = name[1:-1]
    if not name.startswith(prefix):
        return None
    base, colon, number = name[len(prefix) :].rpartition(":")
    # The canonical text of a non-negative int only: what partition_stream_key writes.
    canonical = number.isascii() and number.isdigit() and str(int(number)) == number
    if not (base and colon and canonical) or event_id == f"{base}:{number}":
        return None
    return base, int(number)


def partition_count_key(prefix: str, event_id: str, *, cluster: bool) -> str:
    """The key recording how many partitions ``event_id`` has (a string, e.g. ``"16"``).

    Every process sets it if missing and refuses to start when it holds another number:
    a changed count sends a key's events to another partition, behind another holder.
    """
    name = f"{prefix}{event_id}"
    return f"{_tagged(name, prefix) if cluster else name}:partitions"


@dataclass(frozen=True)
class PartitionKeys:
    """Every key the partitions of one event use for one consumer group.

    :ivar prefix: the backend's ``stream_prefix``.
    :ivar event_id: the event whose streams these are.
    :ivar group: the consumer group (one ordered listener in one service).
    :ivar partitions: how many partitions the event has.
    :ivar cluster: whether names carry hash tags (Redis Cluster).
    """

    prefix: str
    event_id: str
    group: str
    partitions: int
    cluster: bool = False

    def __post_init__(self) -> None:
        require_int("partitions", self.partitions, 1)
        if self.cluster:
            _tagged("", self.prefix)  # refuses a prefix that breaks hash tags, up front

    def stream(self, partition: int) -> str:
        """The stream of ``partition``."""
        self._require(partition)
        return partition_stream_key(self.prefix, self.event_id, partition, cluster=self.cluster)

    def lease(self, partition: int) -> str:
        """The lease key of ``partition`` for this group: ``TOKEN:MEMBER`` while held."""
        return f"{self.stream(partition)}:lease:{self.group}"

    def fence(self, partition: int) -> str:
        """The counter that numbers the leases of ``partition`` (fencing tokens)."""
        return f"{self.stream(partition)}:fence:{self.group}"

    @property
    def members(self) -> str:
        """The sorted set of this group's live members, scored by expiry (server ms)."""
        name = f"{self.prefix}{self.event_id}"
        return f"{_tagged(name, self.prefix) if self.cluster else name}:members:{self.group}"

    def _require(self, partition: int) -> None:
        if not isinstance(partition, int) or not 0 <= partition < self.partitions:
            raise ConfigurationError(
                f"partition {partition!r} of event {self.event_id!r} does not exist; "
                f"it has partitions 0..{self.partitions - 1}"
            )
