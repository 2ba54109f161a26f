"""The Redis Streams backend itself; its public names are re-exported by the package."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import uuid

import anyio

from typed_events._report import ShutdownReport, UndeliveredCall, UndeliveredReason
from typed_events._routing import Subscription
from typed_events._settings import require_int, require_seconds
from typed_events.backends.base import BaseEventEmitterBackend, Lifecycle
from typed_events.backends.redis._backlog import Backlog, sample
from typed_events.backends.redis._client import Client, HeldConnection, check_url, open_client
from typed_events.backends.redis._connection import RedisError, cause_of
from typed_events.backends.redis._consumer import ConsumerSettings, GroupConsumer
from typed_events.backends.redis._keys import (
    DEAD_LETTER_SUFFIX,
    dead_letter_key,
    group_name,
    stream_key,
)
from typed_events.backends.redis._layout import StreamLayout
from typed_events.backends.redis._ordered import OrderedPartitions
from typed_events.backends.redis._partitions import PartitionKeys
from typed_events.backends.redis._url import mask_url, url_user
from typed_events.backends.redis._writer import PendingWrite, StreamWriter
from typed_events.envelope import EnvelopeError, current_outgoing, encode
from typed_events.errors import ConfigurationError, EmitterNotRunningError, RedisUnavailableError
from typed_events.events import Event

__all__ = ["RedisStreamsBackend"]

logger = logging.getLogger("typed_events")


class RedisStreamsBackend(BaseEventEmitterBackend):
    """Deliver events through Redis Streams to listeners in any number of processes.

    :param url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS
        (query options such as ``?ssl_cert_reqs=none`` or ``ssl_ca_certs=...`` go to
        the coredis client), or ``unix:///path/to/socket``; a Redis Cluster is
        ``redis+cluster://[[user]:password@]host:port[,host2:port2...]`` (or
        ``rediss+cluster://`` for TLS), any of its nodes: then every stream name is a
        hash tag (``{typed-events:order_placed:3}``) so a stream and its bookkeeping
        keys share a slot while partitions spread over the primaries.
    :param service: the name of this service; with the listener's qualified name it
        names the consumer group, so every replica of a service must use the same one.
    :param stream_prefix: prefix of every key: streams ``{prefix}{event_id}`` and the
        dead-letter stream ``{prefix}dead-letter``.
    :param max_retries: deliveries after the first before a failing message is
        dead-lettered (the listener's own ``retries`` run within each delivery).
    :param claim_idle: seconds a message may stay unacknowledged by a consumer that
        stopped answering before another consumer takes it over.
    :param max_message_bytes: larger envelopes are refused by ``emit`` and
        dead-lettered by consumers.
    :param max_read_bytes: what one read may bring into memory, per listener: each
        ``XREADGROUP`` asks for at most ``max_read_bytes // max_message_bytes`` entries
        (at least one, at most ``batch_size``; 100 with the defaults), so with envelopes
        no larger than ``max_message_bytes`` a consumer holds at most this many bytes of
        messages per listener at once.
    :param maxlen: approximate cap on each stream's length (``XADD MAXLEN ~``); None
        keeps everything. Trimming can drop messages no group has handled yet.
    :param retry_backoff: seconds before the second delivery; doubles each time after.
    :param batch_size: messages per ``XREADGROUP`` (and per ``XAUTOCLAIM``).
    :param max_concurrency: listener calls running at once per listener in this
        process (``ordered=True`` listeners: one).
    :param max_pending: events waiting to be written before a sync ``emit`` raises
        :class:`WriteBufferFullError`.
    :param shutdown_timeout: seconds the exit waits for running calls and unwritten
        events before it gives up and reports them.
    :param consume: False for a process that only emits (a web front end, say).
    :param replicas: replicas that must hold an event before it counts as written
        (``emit_async`` returns, ``flush`` finishes, the shutdown report stops listing
        it); None: 1 on a Redis Cluster, where a failover loses what no replica had,
        and 0 on one node. The writer confirms each batch with one ``WAIT`` per stream;
        one that a failover lost is written again (consumers dedupe by CloudEvents id).
    :param replica_timeout: seconds each such ``WAIT`` waits before the writer tries
        again (emits keep waiting, within ``emit_timeout``).
    :param emit_timeout: seconds ``emit_async`` waits for Redis to acknowledge before it
        raises :class:`RedisWriteError` (saying why, e.g. the login was refused); None
        waits as long as it takes.
    :param partitions: N, for events with ``partition_key=``: each is written to stream
        ``{prefix}{event_id}:{p}``, ``p`` the stable hash of its key modulo N (also for
        N = 1: ``:0``). Events without a key keep their one stream ``{prefix}{event_id}``.
        An unordered listener reads every partition (one consumer per partition stream
        in its group, sharing the work as usual); an ``ordered=True`` listener holds each
        partition in at most one process at a time (a lease lasting ``claim_idle``,
        spread evenly over the live processes), so one key's events are handled one at
        a time, in emit order, across processes. N is recorded in Redis
        (``{prefix}{event_id}:partitions``) by the first process; one started with
        another N is refused (see docs/redis.md#changing-the-number-of-partitions).
    :raises ValueError: for an invalid setting.

    :ivar trimmed: messages that ``maxlen`` trimming removed before a consumer group of
        this process read them (Redis 7 counts them; each is also logged as an error).
    """

    def __init__(
        self,
        url: str,
        *,
        service: str,
        stream_prefix: str = "typed-events:",
        max_retries: int = 5,
        claim_idle: float = 30.0,
        max_message_bytes: int = 1_048_576,
        max_read_bytes: int = 104_857_600,
        maxlen: int | None = None,
        retry_backoff: float = 1.0,
        batch_size: int = 100,
        max_concurrency: int = 16,
        max_pending: int = 10_000,
        shutdown_timeout: float = 10.0,
        consume: bool = True,
        emit_timeout: float | None = None,
        partitions: int = 1,
        replicas: int | None = None,
        replica_timeout: float = 1.0,
    ) -> None:
        self.cluster = check_url(url)
        if not isinstance(service, str) or not service.strip():
            raise ConfigurationError(f"service must be a non-empty name, got {service!r}")
        require_int("max_retries", max_retries, 0)
        require_int("max_message_bytes", max_message_bytes, 256)
        require_int("max_read_bytes", max_read_bytes, 256)
        if emit_timeout is not None:
            require_seconds("emit_timeout", emit_timeout, positive=True)
        require_int("batch_size", batch_size, 1)
        require_int("max_concurrency", max_concurrency, 1)
        require_int("max_pending", max_pending, 1)
        if maxlen is not None:
            require_int("maxlen", maxlen, 1)
        require_seconds("claim_idle", claim_idle, positive=True)
        require_seconds("retry_backoff", retry_backoff)
        require_seconds("shutdown_timeout", shutdown_timeout)
        if replicas is not None:
            require_int("replicas", replicas, 0)
        require_seconds("replica_timeout", replica_timeout, positive=True)
        self.replicas = (1 if self.cluster else 0) if replicas is None else replicas
        self.replica_timeout = replica_timeout
        self.url = url
        self.service = service
        self.stream_prefix = stream_prefix
        self.max_retries = max_retries
        self.claim_idle = claim_idle
        self.max_message_bytes = max_message_bytes
        self.max_read_bytes = max_read_bytes
        self.emit_timeout = emit_timeout
        self.user = url_user(url)
        self.trimmed = 0
        self.maxlen = maxlen
        self.retry_backoff = retry_backoff
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self.max_pending = max_pending
        self.shutdown_timeout = shutdown_timeout
        self.consume = consume
        self.partitions = partitions
        self._layout = StreamLayout(stream_prefix, partitions, cluster=self.cluster)
        self.consumer_name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.source = f"/typed-events/{service}"
        self.dead_letter_stream = dead_letter_key(stream_prefix, cluster=self.cluster)
        self._client: Client | None = None
        self._writer = self._new_writer()
        self._consumers: list[GroupConsumer | OrderedPartitions] = []
        self.backlog: Backlog | None = None
        """The last sampled :class:`Backlog` of this process's groups (None before one)."""

    def stream_key(self, event_id: str) -> str:
        """The stream holding the events of ``event_id``, an event without
        ``partition_key=`` (a partitioned one has one stream per partition)."""
        return stream_key(self.stream_prefix, event_id, cluster=self.cluster)

    def group_name(self, listener_name: str) -> str:
        """The consumer group of a listener (by qualified name) in this service."""
        return group_name(self.service, listener_name)

    # -- emitting -----------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Queue ``event`` for writing to its stream; a background task writes in batches.

        :raises WriteBufferFullError: if ``max_pending`` events are waiting to be written.
        :raises EnvelopeError: (reason ``"too large"``) if the envelope exceeds
            ``max_message_bytes``.
        :raises EmitterNotRunningError: outside ``async with bus``.
        """
        self._writer.put(self._prepare(event))

    async def emit_async(self, event: Event) -> None:
        """Write ``event`` and return once Redis has acknowledged it.

        Waits for room when ``max_pending`` events are waiting, and through Redis
        outages (the writer reconnects with backoff), for ``emit_timeout`` seconds at
        most (to bound one call only, wrap it in ``anyio.fail_after``).

        :raises RedisWriteError: if Redis refused the write, the backend stopped first,
            or ``emit_timeout`` ran out (the error says why Redis did not acknowledge,
            and whether the event may still be written).
        :raises EnvelopeError: (reason ``"too large"``) as for :meth:`emit`.
        :raises EmitterNotRunningError: outside ``async with bus``.
        """
        await self._writer.put_and_wait(self._prepare(event), self.emit_timeout)

    async def flush(self) -> None:
        """Wait until every event emitted so far is written (or has failed)."""
        await self._writer.flush()

    def _prepare(self, event: Event) -> PendingWrite:
        if not self._writer.accepting:
            raise EmitterNotRunningError("RedisStreamsBackend is not running")
        stream = self._layout.stream(event)
        message = current_outgoing()  # a middleware around this emit (tracing, say)
        if message is None:
            payload = encode(event, source=self.source)
        else:
            message.id, message.system, message.destination = str(uuid.uuid4()), "redis", stream
            payload = encode(
                event, source=self.source, id=message.id, extensions=message.extensions
            )
        if len(payload) > self.max_message_bytes:
            raise EnvelopeError(
                "too large",
                f"{type(event).__qualname__} event serializes to {len(payload)} bytes, more "
                f"than max_message_bytes={self.max_message_bytes}; consumers would "
                "dead-letter it. Make the event smaller (store big payloads elsewhere and "
                "send a reference), or raise max_message_bytes on every process",
                event_type=event.event_id,
            )
        return PendingWrite(event, stream, payload)

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self, lifecycle: Lifecycle) -> ShutdownReport:
        """Connect, create the groups, write and consume until the bus stops; then drain.

        :raises RedisUnavailableError: if Redis cannot be reached (or refuses the login).
        """
        dispatcher = lifecycle.dispatcher
        if DEAD_LETTER_SUFFIX in dispatcher.routing.registry:
            raise ConfigurationError(
                f"event id {DEAD_LETTER_SUFFIX!r} would share its stream with the dead "
                f"letters ({self.dead_letter_stream!r}); give that event another id"
            )
        self._layout.plan(dispatcher.routing.registry)
        unwritten: list[PendingWrite] = []
        left_pending = 0
        timed_out = False
        readers = self._blocking_readers() if self.consume else 0
        try:
            async with contextlib.AsyncExitStack() as stack:
                try:  # a cluster client connects here (it learns the layout)
                    client = await stack.enter_async_context(open_client(self.url, readers))
                except (RedisError, OSError) as exc:
                    raise self._unavailable(exc) from exc
                await self._connect(client)
                self._writer = self._new_writer()
                self._writer.client = client
                self._writer.accepting = True
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._writer.run)
                    for consumer in self._consumers:
                        tasks.start_soon(consumer.run)
                    if self._consumers:
                        tasks.start_soon(self._heartbeat)
                    lifecycle.started()
                    await lifecycle.stopping()
                    with lifecycle.deadline(self.shutdown_timeout) as drain:
                        for consumer in self._consumers:
                            consumer.stop()
                        for consumer in self._consumers:
                            await consumer.finished.wait()
                        # Listeners may have emitted follow-ups while finishing: write them too.
                        await self._writer.flush()
                    timed_out = drain.cancelled_caught
                    unwritten = self._writer.close(
                        f"the backend stopped first (shutdown_timeout={self.shutdown_timeout}s)"
                    )
                    left_pending = sum(len(consumer.in_flight) for consumer in self._consumers)
                    tasks.cancel_scope.cancel()
                await self._forget_idle_consumers(client)
        finally:
            self._client = None
        calls = tuple(
            UndeliveredCall(w.event, w.stream, UndeliveredReason.NOT_WRITTEN) for w in unwritten
        )
        if calls:
            logger.error(
                "RedisStreamsBackend stopped with %d event(s) not written to Redis:\n%s",
                len(calls),
                ShutdownReport(calls),
            )
        if left_pending:
            # Not lost: Redis keeps them, and they count as redelivered, not dropped.
            logger.warning(
                "shutdown_timeout (%.3gs) ran out while %d message(s) were being handled; "
                "they stay pending and another consumer takes them over after claim_idle "
                "(%.3gs)",
                self.shutdown_timeout,
                left_pending,
                self.claim_idle,
            )
        return ShutdownReport(calls, timed_out)

    async def _connect(self, client: Client) -> None:
        try:
            self._consumers = self._plan_consumers(client) if self.consume else []
            await client.ping()
            await self._layout.pin(client)
            for consumer in self._consumers:
                await consumer.ensure_group()
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        self._client = client  # for sample_backlog; this client closes when run() ends

    def _unavailable(self, exc: BaseException) -> RedisUnavailableError:
        return RedisUnavailableError(
            f"RedisStreamsBackend cannot use Redis at {mask_url(self.url)}: "
            f"{cause_of(exc, self.user)}. "
            "Check that redis-server runs there, the URL (rediss:// for TLS, "
            "redis+cluster:// for a Redis Cluster), and the ACL user/password (it needs "
            "+@stream, +@scripting and +ping on the prefix's keys)"
        )

    def _new_writer(self) -> StreamWriter:
        return StreamWriter(
            self.max_pending,
            self.maxlen,
            self.user,
            replicas=self.replicas,
            replica_timeout=self.replica_timeout,
        )

    def _plan_consumers(self, client: Client) -> list[GroupConsumer | OrderedPartitions]:
        dispatcher = self.dispatcher
        settings = ConsumerSettings(
            client=client,
            consumer=self.consumer_name,
            registry=dispatcher.routing.registry,
            dispatcher=dispatcher,
            max_retries=self.max_retries,
            retry_backoff=self.retry_backoff,
            claim_idle=self.claim_idle,
            max_message_bytes=self.max_message_bytes,
            max_read_bytes=self.max_read_bytes,
            batch_size=self.batch_size,
            max_concurrency=self.max_concurrency,
            dead_letter_stream=self.dead_letter_stream,
            maxlen=self.maxlen,
            user=self.user,
            on_trimmed=self._count_trimmed,
            reads=HeldConnection(client),
        )
        consumers: dict[tuple[str, str], list[GroupConsumer | OrderedPartitions]] = {}
        for event_id, subscriptions in dispatcher.routing.routes.items():
            for subscription in subscriptions:
                key = (event_id, self.group_name(subscription.listener.name))
                if key in consumers:
                    other = consumers[key][0].subscription.listener
                    raise ConfigurationError(
                        f"listeners {other.where} and {subscription.listener.where} would "
                        f"share the consumer group {key[1]!r} on the streams of event "
                        f"{event_id!r}, so each event would reach only one of them; give "
                        "them distinct qualified names (module-level functions, or "
                        "distinct classes)"
                    )
                consumers[key] = self._group_consumers(settings, subscription, key[1])
        return [consumer for group in consumers.values() for consumer in group]

    def _group_consumers(
        self, settings: ConsumerSettings, subscription: Subscription, group: str
    ) -> list[GroupConsumer | OrderedPartitions]:
        """One listener's consumers: one per stream, or the leases of an ordered one."""
        event_class = subscription.event_class
        if event_class.event_partition_key is not None and subscription.listener.options.ordered:
            keys = PartitionKeys(
                self.stream_prefix, event_class.event_id, group, self.partitions, self.cluster
            )
            return [OrderedPartitions(settings, subscription, keys)]
        return [
            GroupConsumer(settings, subscription, stream, group, partition)
            for partition, stream in self._layout.streams(event_class)
        ]

    def _blocking_readers(self) -> int:
        """Tasks that may block in ``XREADGROUP`` at once: one per stream and listener."""
        routes = self.dispatcher.routing.routes.values()
        return sum(len(self._layout.streams(s.event_class)) for subs in routes for s in subs)

    def _groups(self) -> list[tuple[str, str]]:
        """``(stream, group)`` of every consumer group this process consumes."""
        return [
            (stream, consumer.group)
            for consumer in self._consumers
            for stream in (
                consumer.streams if isinstance(consumer, OrderedPartitions) else [consumer.stream]
            )
        ]

    def _count_trimmed(self, count: int) -> None:
        self.trimmed += count

    async def sample_backlog(self) -> Backlog:
        """Ask Redis how far behind this process's consumer groups are; keep it in
        :attr:`backlog` (the heartbeat does this every ``claim_idle / 3`` seconds).

        :raises EmitterNotRunningError: outside ``async with bus``.
        """
        if self._client is None:
            raise EmitterNotRunningError("RedisStreamsBackend is not running")
        self.backlog = await sample(self._client, self._groups(), self.dead_letter_stream)
        return self.backlog

    async def _heartbeat(self) -> None:
        interval = max(self.claim_idle / 3, 0.01)
        while True:
            await anyio.sleep(interval)
            # Outages and refusals alike: the consumers' own loops report them.
            for consumer in self._consumers:
                with contextlib.suppress(RedisError, OSError):
                    await consumer.heartbeat()
            with contextlib.suppress(RedisError, OSError):
                await self.sample_backlog()

    async def _forget_idle_consumers(self, client: Client) -> None:
        """Delete this process's consumers from their groups when nothing is pending."""
        with anyio.move_on_after(min(self.shutdown_timeout, 1.0) or 0.1):
            for stream, group in self._groups():
                try:
                    pending = await client.xpending(
                        stream, group, "-", "+", 1, consumer=self.consumer_name
                    )
                    if not pending:  # deleting a consumer would drop its pending messages
                        await client.xgroup_delconsumer(stream, group, self.consumer_name)
                except (RedisError, OSError):
                    return
