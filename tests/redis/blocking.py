"""The backend's own client (coredis) for sync test code: what the tests look at in Redis.

coredis is async only, and a test's assertions (``lambda: ...`` conditions, helpers run
between awaits) are sync. :class:`BlockingRedis` runs the client in an event loop of its
own thread and waits for each call, as a sync client would. Replies are coredis's typed
ones (bytes keys and values: the client does not decode).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import anyio.from_thread

from typed_events.backends.redis._client import Client, open_client

_T = TypeVar("_T")


class BlockingRedis:
    """A coredis client for ``url``, called synchronously; :meth:`close` when done."""

    def __init__(self, url: str) -> None:
        self._portal_context = anyio.from_thread.start_blocking_portal("asyncio")
        self._portal = self._portal_context.__enter__()
        self._client_context: AbstractContextManager[Client] | None = None
        try:
            context = self._portal.wrap_async_context_manager(open_client(url))
            self.client = context.__enter__()
            self._client_context = context
        except BaseException:
            self._portal_context.__exit__(None, None, None)
            raise

    def run(self, work: Callable[[Client], Awaitable[_T]]) -> _T:
        """Await ``work(client)`` in the client's loop (a pipeline, say) and return its result."""

        async def awaited() -> _T:
            return await work(self.client)

        return self._portal.call(awaited)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """Any command of the client, e.g. ``xlen("stream")``, awaited for the caller."""
        command = getattr(self.client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            async def awaited() -> Any:
                return await command(*args, **kwargs)

            return self._portal.call(awaited)

        return call

    def groups(self, stream: str) -> list[dict[str, Any]]:
        """``XINFO GROUPS``, each group's keys as text (its values stay bytes)."""
        return [_keyed(info) for info in self.xinfo_groups(stream)]

    def consumers(self, stream: str, group: str) -> list[dict[str, Any]]:
        """``XINFO CONSUMERS``, each consumer's keys as text."""
        return [_keyed(info) for info in self.xinfo_consumers(stream, group)]

    def last_id(self, stream: str) -> bytes:
        """The stream's last generated entry id (``XINFO STREAM``)."""
        info: Mapping[Any, Any] = self.xinfo_stream(stream)
        return _keyed(info)["last-generated-id"]  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the client and stop its thread."""
        try:
            if self._client_context is not None:
                self._client_context.__exit__(None, None, None)
        finally:
            self._portal_context.__exit__(None, None, None)


def _keyed(info: Mapping[Any, Any]) -> dict[str, Any]:
    return {key.decode() if isinstance(key, bytes) else str(key): v for key, v in info.items()}
