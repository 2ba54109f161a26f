"""Checks for the numeric settings of listeners and backends, with one message style."""

from __future__ import annotations

import math

from typed_events.errors import ConfigurationError

__all__ = ["require_int", "require_seconds"]


def require_int(name: str, value: object, minimum: int) -> None:
    """Raise ValueError unless ``value`` is an int (not a bool) of at least ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigurationError(f"{name} must be an int >= {minimum}, got {value!r}")


def require_seconds(
    name: str, value: object, *, positive: bool = False, infinite: bool = False
) -> None:
    """Raise ValueError unless ``value`` is a number of seconds (>= 0, or > 0 if ``positive``).

    ``infinite`` allows ``math.inf`` ("wait for ever"); NaN is never allowed.
    """
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not math.isnan(value)
        and (infinite or math.isfinite(value))
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        bound = "> 0" if positive else ">= 0"
        raise ConfigurationError(f"{name} must be seconds {bound}, got {value!r}")
