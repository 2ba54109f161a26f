"""Where each event is written on a backend with ``partitions=N``, and the checks at start.

Part of :mod:`typed_events.backends.redis`. An event class with ``partition_key=`` is
written to ``{prefix}{event_id}:{p}`` with ``p = partition_of(event, N)``, for every N
(with ``partitions=1`` its one stream is ``{prefix}{event_id}:0``). An event without a
key keeps its one stream ``{prefix}{event_id}``, whatever N: it has no order to keep
across processes. Names come from :mod:`._keys` and :mod:`._partitions` only, so the
hash tags of Redis Cluster are one switch (``cluster=``).

Two checks before anything is written or read:

- no event without a key may have a stream named like a key of a partitioned event
  (``x:3`` beside a partitioned ``x``): :meth:`StreamLayout.plan` raises naming both;
- N is pinned, per partitioned event, in ``{prefix}{event_id}:partitions``
  (``SET NX``): :meth:`StreamLayout.pin` refuses a process started with another N,
  because with another N a key's events land in another partition, under another lease,
  and their order across the change is lost. The way to change N is in
  ``docs/redis.md#changing-the-number-of-partitions``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from coredis import PureToken

from typed_events._partitioning import partition_of
from typed_events._settings import require_int
from typed_events.backends.redis._client import Client
from typed_events.backends.redis._keys import stream_key
from typed_events.backends.redis._partitions import partition_count_key, partition_stream_key
from typed_events.errors import ConfigurationError
from typed_events.events import Event

__all__ = ["CHANGING_PARTITIONS", "StreamLayout"]

CHANGING_PARTITIONS = "docs/redis.md#changing-the-number-of-partitions"
"""Where the procedure to change the number of partitions is written."""

# What follows "{event_id}:" in the keys of a partitioned event (see _partitions.py).
_PARTITION_KEYS = re.compile(r"\d+(:.*)?|members:.+|partitions")


def _named(event_class: type[Event]) -> str:
    return f"{event_class.event_id!r} ({event_class.__module__}.{event_class.__qualname__})"


class StreamLayout:
    """The streams of every event of one backend.

    :param prefix: the backend's ``stream_prefix``.
    :param partitions: N, the number of partitions of each event with ``partition_key=``.
    :param cluster: whether names carry Redis Cluster hash tags.
    """

    def __init__(self, prefix: str, partitions: int, *, cluster: bool = False) -> None:
        require_int("partitions", partitions, 1)
        self.prefix = prefix
        self.partitions = partitions
        self.cluster = cluster
        self._streams: dict[str, str | tuple[str, ...]] = {}
        self._partitioned: list[type[Event]] = []

    def plan(self, events: Iterable[type[Event]]) -> None:
        """Take the bus's events: name their streams, refusing names that collide.

        :raises ConfigurationError: naming both events, when an event without a key has a
            stream named like a key of a partitioned event.
        """
        classes = list(events)
        self._partitioned = [c for c in classes if c.event_partition_key is not None]
        for plain in classes:
            if plain.event_partition_key is not None:
                continue
            for keyed in self._partitioned:
                rest = plain.event_id.removeprefix(f"{keyed.event_id}:")
                if rest != plain.event_id and _PARTITION_KEYS.fullmatch(rest):
                    raise ConfigurationError(
                        f"event {_named(plain)} has no partition_key, so its stream is "
                        f"{self.streams(plain)[0][1]!r}, a name the partitioned "
                        f"event {_named(keyed)} uses for its own keys (its streams are "
                        f"{self._stream(keyed.event_id, 0)!r} to "
                        f"{self._stream(keyed.event_id, self.partitions - 1)!r}); give one "
                        "of them another event id"
                    )
        self._streams = {c.event_id: self._names(c) for c in classes}

    @property
    def partitioned(self) -> list[type[Event]]:
        """The bus's events with ``partition_key=``."""
        return list(self._partitioned)

    def streams(self, event_class: type[Event]) -> list[tuple[int | None, str]]:
        """``(partition, stream)`` of each stream of ``event_class`` (partition None: its
        one stream, the event has no key)."""
        if event_class.event_partition_key is None:
            return [(None, stream_key(self.prefix, event_class.event_id, cluster=self.cluster))]
        return [(p, self._stream(event_class.event_id, p)) for p in range(self.partitions)]

    def stream(self, event: Event) -> str:
        """The stream ``event`` is written to.

        :raises ConfigurationError: for a partitioned event the bus does not know (its
            partition count was not checked at start).
        """
        names = self._streams.get(event.event_id)
        if names is None:
            names = self._learn(type(event))
        if isinstance(names, str):
            return names
        return names[partition_of(event, self.partitions)]

    def _learn(self, event_class: type[Event]) -> str | tuple[str, ...]:
        if event_class.event_partition_key is not None:
            raise ConfigurationError(
                f"event {_named(event_class)} has partition_key= but the bus does not know "
                "it, so its number of partitions was not checked at start; list it in "
                "EventBus(events=[...]) (or give it a listener)"
            )
        names = self._names(event_class)
        self._streams[event_class.event_id] = names
        return names

    def _names(self, event_class: type[Event]) -> str | tuple[str, ...]:
        streams = self.streams(event_class)
        if event_class.event_partition_key is None:
            return streams[0][1]
        return tuple(name for _, name in streams)

    def _stream(self, event_id: str, partition: int) -> str:
        return partition_stream_key(self.prefix, event_id, partition, cluster=self.cluster)

    async def pin(self, client: Client) -> None:
        """Record N for each partitioned event if none is recorded; refuse another N.

        :raises ConfigurationError: naming the event, the recorded and the given N, and
            the procedure to change it.
        """
        for event_class in self._partitioned:
            key = partition_count_key(self.prefix, event_class.event_id, cluster=self.cluster)
            await client.set(key, str(self.partitions), condition=PureToken.NX)
            stored = await client.get(key)
            if stored is None:  # deleted in between: someone is changing N right now
                stored = b"(deleted while this process started)"
            if stored != str(self.partitions).encode():
                raise ConfigurationError(
                    f"event {_named(event_class)} has partitions={stored.decode(errors='replace')}"
                    f" on this Redis (key {key!r}), but this process was started with "
                    f"partitions={self.partitions}. Changing the number of partitions of a "
                    "live system sends a key's events to another partition and breaks their "
                    f"order: start with partitions={stored.decode(errors='replace')}, or "
                    f"follow {CHANGING_PARTITIONS} (stop the emitters, let every consumer "
                    f"group drain, delete {key!r}, then start with the new number)"
                )
