"""The versioning tests reuse the private redis-server fixture of the Redis tests."""

from tests.redis.conftest import redis_server

__all__ = ["redis_server"]
