"""Fixtures of the Litestar tests."""

from __future__ import annotations

import pytest
from litestar.types import AnyIOBackend


@pytest.fixture
def backend(anyio_backend: str) -> AnyIOBackend:
    """The anyio backend for Litestar's TestClient: asyncio, then trio (from the root fixture).

    The test client runs the app, lifespan included, on this backend in a portal thread.
    """
    assert anyio_backend in ("asyncio", "trio")
    return "trio" if anyio_backend == "trio" else "asyncio"
