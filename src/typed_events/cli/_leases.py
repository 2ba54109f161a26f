"""``typed-events list APP --leases``: who holds each partition of the ordered listeners.

For an app whose bus runs on a :class:`~typed_events.backends.redis.RedisStreamsBackend`,
this reads from that backend's Redis, for each ordered listener of each event with a
``partition_key``: every partition's holder, fencing token and time left, and the live
members of the listener's group. Names come from the app (events, ``service``,
``stream_prefix``, ``partitions``), never from ``KEYS``/``SCAN``, so it works the same
on Redis Cluster. Everything read from Redis is printed with its control characters
escaped (see :func:`typed_events.cli._dead_letter.safe_text`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio

from typed_events._routing import Routing
from typed_events.bus import EventBus
from typed_events.cli._app import AppLoadError, load_object
from typed_events.cli._dead_letter import safe_text
from typed_events.events import Event

if TYPE_CHECKING:
    from typed_events.backends.redis import RedisStreamsBackend
    from typed_events.backends.redis._lease_scripts import LeaseInfo, MemberInfo
    from typed_events.backends.redis._partitions import PartitionKeys

__all__ = [
    "GroupLeases",
    "LeaseReport",
    "print_leases",
    "read_leases",
    "render_leases",
    "render_leases_table",
]

# Seconds the whole read may take: an address that drops packets must not hang the CLI.
_READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class GroupLeases:
    """The leases of one ordered listener's group on one partitioned event."""

    event_id: str
    listener: str
    group: str
    leases: tuple[LeaseInfo, ...]
    members: tuple[MemberInfo, ...]


@dataclass(frozen=True)
class LeaseReport:
    """What ``--leases`` found: the groups with leases, and the ordered listeners of
    events without a ``partition_key`` (one stream each, ordered in one process only)."""

    target: str
    url: str
    partitions: int
    groups: tuple[GroupLeases, ...]
    unpartitioned: tuple[tuple[str, str], ...]


def read_leases(
    target: str, app_dir: str | None, events: Sequence[type[Event]], routing: Routing
) -> LeaseReport:
    """Read the leases of ``target``'s ordered listeners from its backend's Redis.

    :raises AppLoadError: if ``target`` is no bus on a ``RedisStreamsBackend``, or Redis
        cannot be read (exit code 2; the URL is shown without its password).
    """
    backend = _redis_backend(target, app_dir)
    from typed_events.backends.redis._partitions import PartitionKeys
    from typed_events.backends.redis._url import mask_url

    partitions = _partitions_of(backend)
    cluster = urlsplit(backend.url).scheme.endswith("+cluster")
    plans: list[tuple[str, str, PartitionKeys]] = []
    unpartitioned: list[tuple[str, str]] = []
    for event_class in events:
        for subscription in routing.subscriptions(event_class.event_id):
            if not subscription.listener.options.ordered:
                continue  # unordered listeners read every partition, without leases
            name = subscription.listener.name
            if event_class.event_partition_key is None:
                unpartitioned.append((event_class.event_id, name))
                continue
            group = backend.group_name(name)
            keys = PartitionKeys(
                backend.stream_prefix, event_class.event_id, group, partitions, cluster
            )
            plans.append((event_class.event_id, name, keys))
    url = mask_url(backend.url)
    groups = _read(backend, plans, url) if plans else ()
    return LeaseReport(target, url, partitions, groups, tuple(unpartitioned))


def _redis_backend(target: str, app_dir: str | None) -> RedisStreamsBackend:
    obj = load_object(target, app_dir, "an EventBus")
    if not isinstance(obj, EventBus):
        raise AppLoadError(
            f"--leases reads the Redis of the bus's backend, and APP {target!r} is "
            f"{type(obj).__qualname__}, not an EventBus; point APP at your EventBus"
        )
    try:
        from typed_events.backends.redis import RedisStreamsBackend
    except ModuleNotFoundError:
        raise AppLoadError(
            "--leases needs the Redis backend: pip install 'typed-events[redis]'"
        ) from None
    backend = obj.backend
    if not isinstance(backend, RedisStreamsBackend):
        raise AppLoadError(
            f"--leases shows the partition leases of a RedisStreamsBackend; the bus "
            f"{target} runs on {type(backend).__qualname__}, which has no leases. Drop "
            "--leases, or point APP at the bus your Redis processes use"
        )
    return backend


def _partitions_of(backend: RedisStreamsBackend) -> int:
    """The backend's ``partitions`` setting (a backend from before partitions: 1)."""
    partitions: object = getattr(backend, "partitions", 1)
    return partitions if isinstance(partitions, int) and partitions >= 1 else 1


def _read(
    backend: RedisStreamsBackend, plans: list[tuple[str, str, PartitionKeys]], url: str
) -> tuple[GroupLeases, ...]:
    from typed_events.backends.redis._client import open_client
    from typed_events.backends.redis._connection import RedisError, cause_of
    from typed_events.backends.redis._lease_scripts import describe, members

    async def read() -> tuple[GroupLeases, ...]:
        found: list[GroupLeases] = []
        with anyio.fail_after(_READ_TIMEOUT):
            async with open_client(backend.url) as client:
                for event_id, listener, keys in plans:
                    leases = tuple(await describe(client, keys))
                    live = tuple(await members(client, keys))
                    found.append(GroupLeases(event_id, listener, keys.group, leases, live))
        return tuple(found)

    try:
        return anyio.run(read)
    except (RedisError, OSError, TimeoutError, ValueError) as error:
        cause = (
            f"no answer within {_READ_TIMEOUT:g}s"
            if type(error) is TimeoutError  # anyio's deadline, not a client's own timeout
            else cause_of(error, backend.user)
        )
        raise AppLoadError(
            f"cannot read the leases: Redis at {url} failed: {cause}. "
            "Check that redis-server runs there and that this machine reaches it (the URL "
            "is the one APP's RedisStreamsBackend was given)",
            exit_code=2,
        ) from None


# -- output ----------------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def render_leases(report: LeaseReport, fmt: str) -> str:
    """``--leases`` in ``fmt``: ``plain`` or ``json`` (``render_leases_table`` for rich)."""
    if fmt == "json":
        return json.dumps(_json(report), indent=2)  # json.dumps escapes control characters
    blocks = [_group_text(group, report.partitions) for group in report.groups]
    blocks += [
        f"{event_id}: ordered listener {listener} reads one stream, without leases (the "
        "event has no partition_key; its order holds within one process only)"
        for event_id, listener in report.unpartitioned
    ]
    if not blocks:
        blocks.append(f"no ordered listeners in {report.target}: nothing holds a lease")
    return "\n\n".join(blocks)


def _group_text(group: GroupLeases, partitions: int) -> str:
    lines = [
        f"{group.event_id}  ordered listener {group.listener}",
        f"  group {safe_text(group.group)}, {partitions} partition(s)",
        "  live members:",
    ]
    lines += [
        f"    {safe_text(m.member)}  expires in {_seconds(m.expires_in)}" for m in group.members
    ] or ["    (none: no process of this group runs)"]
    rows = [("PARTITION", "HOLDER", "TOKEN", "EXPIRES IN")]
    rows += [
        (
            str(lease.partition),
            "-" if lease.holder is None else safe_text(lease.holder),
            "-" if lease.token is None else str(lease.token),
            _seconds(lease.expires_in),
        )
        for lease in group.leases
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  " + "  ".join([*cells, row[3]]))
    held = sum(1 for lease in group.leases if lease.holder is not None)
    lines.append(f"  {held} of {partitions} partition(s) held")
    return "\n".join(lines)


def _json(report: LeaseReport) -> dict[str, Any]:
    return {
        "app": report.target,
        "url": report.url,
        "partitions": report.partitions,
        "groups": [
            {
                "event_id": group.event_id,
                "listener": group.listener,
                "group": group.group,
                "members": [
                    {"member": m.member, "expires_in": m.expires_in} for m in group.members
                ],
                "leases": [
                    {
                        "partition": lease.partition,
                        "holder": lease.holder,
                        "token": lease.token,
                        "expires_in": lease.expires_in,
                    }
                    for lease in group.leases
                ],
            }
            for group in report.groups
        ],
        "unpartitioned": [
            {"event_id": event_id, "listener": listener}
            for event_id, listener in report.unpartitioned
        ],
    }


def render_leases_table(report: LeaseReport) -> Any:
    """A rich renderable of ``report``: one table per group (rich is an optional extra)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    tables: list[Any] = []
    for group in report.groups:
        live = ", ".join(safe_text(m.member) for m in group.members) or "none"
        table = Table(
            title=Text(f"{group.event_id} → {safe_text(group.group)}"),
            caption=Text(f"live members: {live}"),
        )
        for column in ("Partition", "Holder", "Token", "Expires in"):
            table.add_column(column, overflow="fold")
        for lease in group.leases:
            table.add_row(
                str(lease.partition),
                Text("-" if lease.holder is None else safe_text(lease.holder)),
                "-" if lease.token is None else str(lease.token),
                _seconds(lease.expires_in),
            )
        tables.append(table)
    notes = [
        Text(f"{event_id}: ordered listener {listener} has no leases (no partition_key)")
        for event_id, listener in report.unpartitioned
    ]
    if not tables and not notes:
        notes.append(Text(f"no ordered listeners in {report.target}: nothing holds a lease"))
    return Group(*tables, *notes)


def print_leases(report: LeaseReport, fmt: str) -> None:
    """Print ``report`` as ``list``'s ``--format`` asks (auto: a table on a terminal)."""
    if fmt in ("auto", "table"):
        try:
            from rich.console import Console
        except ModuleNotFoundError:
            if fmt == "table":
                raise AppLoadError(
                    "--format table needs rich: pip install 'typed-events[cli]'"
                ) from None
        else:
            if fmt == "table" or sys.stdout.isatty():
                Console().print(render_leases_table(report))
                return
    print(render_leases(report, "json" if fmt == "json" else "plain"))
