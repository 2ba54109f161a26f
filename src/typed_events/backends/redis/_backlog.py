"""How far behind the consumer groups are, and how many dead letters wait: one snapshot.

Part of :mod:`typed_events.backends.redis`. The backend samples it on its heartbeat (a
metrics exporter reads :attr:`RedisStreamsBackend.backlog` from any thread, and must not
wait for Redis), or on demand with :meth:`RedisStreamsBackend.sample_backlog`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from typed_events.backends.redis._client import Client
from typed_events.backends.redis._group import text

__all__ = ["Backlog", "GroupBacklog", "sample"]


@dataclass(frozen=True)
class GroupBacklog:
    """One consumer group's backlog on its stream.

    :ivar stream: the stream key.
    :ivar group: the consumer group.
    :ivar pending: entries delivered to the group and not acknowledged yet.
    :ivar lag: entries not yet delivered to the group; None where Redis does not say
        (before Redis 7.0, or after entries were deleted from the middle of the stream).
    """

    stream: str
    group: str
    pending: int
    lag: int | None


@dataclass(frozen=True)
class Backlog:
    """A snapshot of this process's consumer groups and the dead-letter stream.

    :ivar groups: one per consumer group this process consumes.
    :ivar dead_letters: entries in the dead-letter stream.
    :ivar dead_letter_stream: its key.
    """

    groups: tuple[GroupBacklog, ...]
    dead_letters: int
    dead_letter_stream: str


async def sample(
    client: Client, groups: Iterable[tuple[str, str]], dead_letter_stream: str
) -> Backlog:
    """Ask Redis (``XINFO GROUPS`` per stream, ``XLEN``) for a :class:`Backlog`."""
    wanted: dict[str, set[str]] = {}
    for stream, group in groups:
        wanted.setdefault(stream, set()).add(group)
    found: list[GroupBacklog] = []
    for stream, names in wanted.items():
        replies: tuple[dict[Any, Any], ...] = await client.xinfo_groups(stream)
        for reply in replies:
            info = {text(k): v for k, v in reply.items()}
            name = text(info["name"])
            if name in names:
                lag = info.get("lag")
                found.append(
                    GroupBacklog(
                        stream, name, int(info["pending"]), None if lag is None else int(lag)
                    )
                )
    dead_letters = int(await client.xlen(dead_letter_stream))
    return Backlog(tuple(found), dead_letters, dead_letter_stream)
