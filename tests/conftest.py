"""Shared fixtures: anyio tests run on asyncio and on trio."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test on both backends."""
    return str(request.param)


def pytest_report_header() -> str:
    """Say which redis-server the Redis tests use, so a CI log shows it."""
    from tests.redis.conftest import describe_redis_server

    return describe_redis_server()
