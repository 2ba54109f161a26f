"""myapp/worker.py: a module that reads its settings when it is imported."""

from __future__ import annotations

import os

from .events import bus

__all__ = ["REDIS_URL", "bus"]


def require_env(name: str) -> str:
    """The value of environment variable ``name``; raise if it is not set."""
    value = os.environ.get(name)
    if value is None:
        raise RuntimeError(f"set {name} before starting the worker")
    return value


REDIS_URL = require_env("MYAPP_REDIS_URL")
