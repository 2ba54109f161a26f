"""Shared fixtures: anyio tests run on asyncio and on trio."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.otel.sdk import Telemetry, in_memory_sdk

# The Redis Cluster fixtures (redis_cluster, cluster); a plugin so no conftest imports another.
pytest_plugins = ["tests.redis.cluster"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every ``@pytest.mark.anyio`` test on both backends."""
    return str(request.param)


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    """The OpenTelemetry SDK in memory, and an ``OpenTelemetryMiddleware`` reporting to it."""
    with in_memory_sdk() as sdk:
        yield sdk


def pytest_report_header() -> str:
    """Say which redis-server the Redis tests use, so a CI log shows it."""
    from tests.redis.conftest import describe_redis_server

    return describe_redis_server()
