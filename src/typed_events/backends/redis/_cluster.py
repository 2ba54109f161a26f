"""Redis Cluster URLs, and the one way a cluster client is made from one.

Part of :mod:`typed_events.backends.redis`. The URL forms::

    redis+cluster://[[user]:password@]host:port[,host2:port2...][/0][?options]
    rediss+cluster://...                                   (TLS, with the ssl_* options)

Every ``host:port`` is a startup node: the client asks the first one that answers for
the cluster's layout and finds every other node by itself. The URL is parsed here and not
by coredis' ``RedisCluster.from_url``, which turns TLS on for the exact scheme ``rediss``
only (``rediss+cluster`` would connect in clear text), takes one host, ignores options it
does not know, and warns (DeprecationWarning) on every client it makes.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast
from urllib.parse import parse_qsl, unquote, urlsplit

import coredis
from coredis.connection import TCPLocation
from coredis.exceptions import ClusterDownError, ConnectionError
from coredis.pool import ClusterConnectionPool
from coredis.retry import RetryPolicy

from typed_events.backends.redis._url import mask_url
from typed_events.errors import ConfigurationError

__all__ = [
    "ClusterClient",
    "ClusterSettings",
    "cluster_settings",
    "is_cluster_url",
    "open_cluster_client",
]

ClusterClient = coredis.RedisCluster[bytes]
"""A cluster client that does not decode replies, like the single-node one."""

_Result = TypeVar("_Result")

_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS
_DEFAULT_PORT = 6379
# Blocking reads each hold a connection of their own; the rest share them (per node).
_SPARE_CONNECTIONS = 16
_TLS_OPTIONS = (
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_cert_reqs",
    "ssl_check_hostname",
)
# What the single-node URL takes too; the pool size is the backend's (it knows how many
# blocking readers it runs), and a cluster has database 0 only.
_OPTIONS = (*_TLS_OPTIONS, "username", "password", "connect_timeout", "stream_timeout", "db")
_CERT_REQS = ("none", "optional", "required")
_TRUE, _FALSE = ("1", "true", "yes", "y", "on"), ("0", "false", "no", "n", "off")

CertReqs = Literal["none", "optional", "required"]


@dataclass(frozen=True)
class ClusterSettings:
    """What a Redis Cluster URL says, checked.

    :ivar shown: the URL with every password masked, for messages and logs.
    :ivar nodes: the startup nodes, ``(host, port)``, in the URL's order.
    :ivar tls: True for ``rediss+cluster://``.

    The other fields are the URL's credentials and the options of the same names (None:
    not given, coredis' default), passed to every node the client finds.
    """

    shown: str
    nodes: tuple[tuple[str, int], ...]
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    connect_timeout: float | None = None
    stream_timeout: float | None = None
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_cert_reqs: CertReqs | None = None
    ssl_check_hostname: bool | None = None


def is_cluster_url(url: object) -> bool:
    """True when ``url`` names a Redis Cluster (``redis+cluster://``, ``rediss+cluster://``)."""
    if not isinstance(url, str):
        return False
    scheme, found, _ = url.partition("://")
    return bool(found) and scheme.lower() in _SCHEMES


def cluster_settings(url: str) -> ClusterSettings:
    """Parse and check a ``redis+cluster://`` or ``rediss+cluster://`` URL.

    A user and password are percent-decoded, as in the single-node URL.

    :raises ConfigurationError: for another scheme, a host list that cannot be read, a
        database other than 0, an unknown query option or a bad option value, or a TLS
        option without TLS; the message shows the URL with its password masked.
    """
    try:
        parts = urlsplit(url)
    except (ValueError, TypeError):
        raise ConfigurationError(
            "the Redis Cluster URL cannot be parsed (an unclosed '[' around an IPv6 address?); "
            "write it as redis+cluster://[user:password@]host:port[,host2:port2...]"
        ) from None
    if not is_cluster_url(url):
        raise ConfigurationError(
            f"{mask_url(url)} is not a Redis Cluster URL; start it with redis+cluster:// "
            "(or rediss+cluster:// for TLS)"
        )
    if "@" in url.partition("://")[2][len(parts.netloc) :]:
        # Part of the password may be in the path or query: show nothing of the URL.
        raise ConfigurationError(
            "the Redis Cluster URL has an '@' after its host list; percent-encode '/', '?', "
            "'#' and '@' in the password (e.g. '/' as %2F) and '@' in option values (%40)"
        )
    shown = mask_url(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    options = _options(parts.query, shown)
    _check_database(parts.path, options.pop("db", None), shown)
    tls = _SCHEMES[parts.scheme]
    if not tls and (given := [name for name in _TLS_OPTIONS if name in options]):
        raise ConfigurationError(
            f"{', '.join(given)} in {shown} need TLS; use rediss+cluster:// (redis+cluster:// "
            "connects in clear text)"
        )
    return ClusterSettings(
        shown=shown,
        nodes=tuple(_node(entry, shown) for entry in hosts.split(",")),
        tls=tls,
        username=unquote(user) or options.get("username") or None,
        password=unquote(password) or options.get("password") or None,
        connect_timeout=_seconds(options, "connect_timeout", shown),
        stream_timeout=_seconds(options, "stream_timeout", shown),
        ssl_ca_certs=options.get("ssl_ca_certs"),
        ssl_certfile=options.get("ssl_certfile"),
        ssl_keyfile=options.get("ssl_keyfile"),
        ssl_cert_reqs=_cert_reqs(options.get("ssl_cert_reqs"), shown),
        ssl_check_hostname=_flag(options, "ssl_check_hostname", shown),
    )


def open_cluster_client(
    settings: ClusterSettings,
    *,
    blocking_readers: int = 0,
    pool: type[ClusterConnectionPool] = ClusterConnectionPool,
) -> ClusterClient:
    """A cluster client for ``settings``, not yet entered: use it as ``async with client``
    (entering learns the layout and starts coredis' layout monitor in the caller's task
    group).

    No retries inside the client, as on a single node: the backend's loops own retrying
    and backoff, and the client still learns a dead node's replacement (see
    :class:`_ReportNoRetry`). coredis still follows MOVED/ASK redirects, and still re-sends
    a whole pipeline on CLUSTERDOWN, which can write a batch twice: consumers dedupe by id.

    :param blocking_readers: how many tasks block in ``XREADGROUP`` at once; each holds a
        connection, possibly all on one node, so every node's pool has room for them all
        plus the other commands.
    :param pool: the connection pool class (``_client`` passes one that fixes a leak).
    :raises ConfigurationError: when the TLS files cannot be loaded.
    """
    host, port = settings.nodes[0]
    try:
        return coredis.RedisCluster(
            startup_nodes=[TCPLocation(h, p) for h, p in settings.nodes],
            username=settings.username,
            password=settings.password,
            connect_timeout=settings.connect_timeout,
            stream_timeout=settings.stream_timeout,
            ssl=settings.tls,
            ssl_ca_certs=settings.ssl_ca_certs,
            ssl_certfile=settings.ssl_certfile,
            ssl_keyfile=settings.ssl_keyfile,
            ssl_cert_reqs=settings.ssl_cert_reqs,
            ssl_check_hostname=settings.ssl_check_hostname,
            max_connections=blocking_readers + _SPARE_CONNECTIONS,
            max_connections_per_node=True,
            decode_responses=False,
            retry_policy=_ReportNoRetry(),
            connection_pool_cls=pool,
        )
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(
            f"cannot load the TLS files named in {settings.shown} ({type(error).__name__}: "
            f"{error}); check ssl_ca_certs, ssl_certfile and ssl_keyfile (first node "
            f"{host}:{port})"
        ) from error


class _ReportNoRetry(RetryPolicy):
    """Retries nothing, but hands every connection-kind error to the client's hook.

    A cluster client learns that a node died only from that hook (coredis' default policy
    calls it before each retry; its ``NoRetryPolicy`` never does): without it, after a
    failover the client would send the dead node's slots to the dead node for ever.
    """

    def __init__(self) -> None:
        super().__init__((ConnectionError, TimeoutError, ClusterDownError), retries=0)

    def delay(self, attempt_number: int) -> float:
        """No retries, so no pause."""
        return 0.0

    async def call_with_retries(
        self,
        func: Callable[..., Awaitable[_Result]],
        before_hook: Callable[..., Awaitable[Any] | None] | None = None,
        failure_hook: Callable[..., Awaitable[Any] | None]
        | dict[type[BaseException], Callable[..., Awaitable[Any] | None]]
        | None = None,
    ) -> _Result:
        """Run ``func`` once; on a connection-kind error report it, then raise it."""
        try:
            if before_hook is not None and (pending := before_hook()) is not None:
                await pending
            return await func()
        except Exception as error:
            if callable(failure_hook) and self.will_retry(error):
                # as coredis does: a failing hook must not hide the error itself
                with contextlib.suppress(Exception):
                    if (pending := failure_hook(error)) is not None:
                        await pending
            raise


def _options(query: str, shown: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in _OPTIONS:
            raise ConfigurationError(
                f"unknown option {name!r} in the Redis Cluster URL {shown}; the options are "
                f"{', '.join(_OPTIONS)} (the pool size is set by the backend)"
            )
        if name in options:
            raise ConfigurationError(f"option {name!r} is given twice in {shown}; keep one")
        options[name] = value
    return options


def _check_database(path: str, db: str | None, shown: str) -> None:
    for given in (path.strip("/") or None, db):
        if given is not None and given != "0":
            raise ConfigurationError(
                f"{shown} asks for database {given!r}; a Redis Cluster has database 0 only: "
                "remove the /N (or ?db=N) from the URL and use a stream_prefix to keep "
                "applications apart"
            )


def _node(entry: str, shown: str) -> tuple[str, int]:
    if entry.startswith("["):  # an IPv6 literal: [::1]:7000
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise _bad_node(entry, shown)
        port = rest[1:] if rest else None
    else:
        if entry.count(":") > 1:
            raise _bad_node(entry, shown, "write an IPv6 address in brackets, [::1]:7000")
        host, colon, port = entry.partition(":")
        port = port if colon else None
    if not host:
        raise _bad_node(entry, shown)
    if port is None:
        return unquote(host), _DEFAULT_PORT
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise _bad_node(entry, shown, "the port must be a number from 1 to 65535")
    return unquote(host), int(port)


def _bad_node(entry: str, shown: str, how: str = "") -> ConfigurationError:
    hint = how or "write each node as host:port, separated by commas"
    return ConfigurationError(
        f"node {entry!r} in the Redis Cluster URL {shown} is not host:port; {hint}"
    )


def _seconds(options: dict[str, str], name: str, shown: str) -> float | None:
    value = options.get(name)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ConfigurationError(f"{name}={value!r} in {shown} must be a number of seconds > 0")
    return seconds


def _cert_reqs(value: str | None, shown: str) -> CertReqs | None:
    if value is None:
        return None
    if value.lower() not in _CERT_REQS:
        raise ConfigurationError(
            f"ssl_cert_reqs={value!r} in {shown} must be one of {', '.join(_CERT_REQS)}"
        )
    return cast("CertReqs", value.lower())


def _flag(options: dict[str, str], name: str, shown: str) -> bool | None:
    value = options.get(name)
    if value is None:
        return None
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigurationError(f"{name}={value!r} in {shown} must be true or false")
