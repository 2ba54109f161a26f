"""Every Redis key and consumer group name the backend uses, computed here only.

Part of :mod:`typed_events.backends.redis`. Streams are ``{prefix}{event_id}``, the
dead-letter stream is ``{prefix}dead-letter`` and each listener's consumer group is
``{service}:{listener qualified name}``; partitioned streams are in :mod:`._partitions`.

On Redis Cluster (``cluster=True``) every stream name is wrapped whole in a hash tag,
``{typed-events:user_created}``, ``{typed-events:dead-letter}``, so the keys built on it
(its write fence, a partition's leases) share its slot and one script may touch them.
"""

from __future__ import annotations

from typed_events.errors import ConfigurationError

__all__ = ["DEAD_LETTER_SUFFIX", "dead_letter_key", "group_name", "hash_tagged", "stream_key"]

DEAD_LETTER_SUFFIX = "dead-letter"
"""What follows the prefix in the dead-letter stream's key (no event may use it as id)."""


def stream_key(prefix: str, event_id: str, *, cluster: bool = False) -> str:
    """The stream holding the events of ``event_id`` (an event without ``partition_key``)."""
    name = f"{prefix}{event_id}"
    return hash_tagged(name, prefix) if cluster else name


def dead_letter_key(prefix: str, *, cluster: bool = False) -> str:
    """The dead-letter stream of a backend using ``prefix``."""
    name = f"{prefix}{DEAD_LETTER_SUFFIX}"
    return hash_tagged(name, prefix) if cluster else name


def group_name(service: str, listener_name: str) -> str:
    """The consumer group of a listener (by qualified name) in ``service``."""
    return f"{service}:{listener_name}"


def hash_tagged(name: str, prefix: str) -> str:
    """``{name}``: on a cluster only the part between the first ``{`` and the next ``}``
    picks the slot, so every key that starts with this one shares its slot.

    :raises ConfigurationError: when ``prefix`` (the user's part of ``name``) has a brace,
        which would cut the tag short.
    """
    if "{" in prefix or "}" in prefix:
        raise ConfigurationError(
            f"stream_prefix {prefix!r} contains a brace; on Redis Cluster typed-events wraps "
            "each stream's name in a {...} hash tag, which a brace in the prefix would "
            "cut short. Use a prefix without { and }, e.g. 'typed-events:'"
        )
    return f"{{{name}}}"
