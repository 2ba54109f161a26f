"""Every Redis key and consumer group name the backend uses, computed here only.

Part of :mod:`typed_events.backends.redis`. Streams are ``{prefix}{event_id}``, the
dead-letter stream is ``{prefix}dead-letter`` and each listener's consumer group is
``{service}:{listener qualified name}``. Keeping the rules in one module lets a later
layout (partitioned streams, Redis Cluster hash tags) change them in one place.
"""

from __future__ import annotations

__all__ = ["DEAD_LETTER_SUFFIX", "dead_letter_key", "group_name", "stream_key"]

DEAD_LETTER_SUFFIX = "dead-letter"
"""What follows the prefix in the dead-letter stream's key (no event may use it as id)."""


def stream_key(prefix: str, event_id: str) -> str:
    """The stream holding the events of ``event_id``."""
    return f"{prefix}{event_id}"


def dead_letter_key(prefix: str) -> str:
    """The dead-letter stream of a backend using ``prefix``."""
    return f"{prefix}{DEAD_LETTER_SUFFIX}"


def group_name(service: str, listener_name: str) -> str:
    """The consumer group of a listener (by qualified name) in ``service``."""
    return f"{service}:{listener_name}"
