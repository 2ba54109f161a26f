"""A private redis-server per test: loopback, a free port, a temp dir, appendonly on.

No redis-server binary is a test failure (CI installs it in ``.ci/run``); set
``TYPED_EVENTS_ALLOW_NO_REDIS=1`` to skip these tests on a machine without one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

REDIS_SERVER = shutil.which("redis-server")


def require_redis_server() -> str:
    """The redis-server path; fails (or, when allowed, skips) the test without one."""
    if REDIS_SERVER is not None:
        return REDIS_SERVER
    if os.environ.get("TYPED_EVENTS_ALLOW_NO_REDIS") == "1":
        pytest.skip(
            "!!! redis-server NOT FOUND: the Redis backend is NOT TESTED on this machine "
            "(TYPED_EVENTS_ALLOW_NO_REDIS=1). Install it: apt-get install redis-server !!!"
        )
    pytest.fail(
        "redis-server is not installed, so the Redis backend tests cannot run. Install it "
        "(apt-get install redis-server; .ci/run does), or set TYPED_EVENTS_ALLOW_NO_REDIS=1 "
        "to skip them knowingly.",
        pytrace=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One redis-server process with its data in ``directory``; restartable on its port."""

    def __init__(self, binary: str, directory: Path, *, tls: bool = False) -> None:
        self.binary = binary
        self.directory = directory
        self.tls = tls
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        if tls:
            make_certificates(directory)

    @property
    def url(self) -> str:
        if self.tls:
            ca = self.directory / "ca.crt"
            return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={ca}"
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A plain synchronous client, for looking at what the backend did."""
        return redis.Redis.from_url(self.url)

    def start(self) -> None:
        if self.tls:
            listen = [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                "server.crt",
                "--tls-key-file",
                "server.key",
                "--tls-ca-cert-file",
                "ca.crt",
                "--tls-auth-clients",
                "no",
            ]
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
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.exceptions.RedisError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log").read_text(errors="replace")
                raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log}")
            time.sleep(0.02)

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(timeout=10)
        self.process = None


def make_certificates(directory: Path) -> None:
    """A throwaway CA and a server certificate for 127.0.0.1, made with openssl."""
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    commands = [
        "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=typed-events-test-ca "
        "-keyout ca.key -out ca.crt",
        "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr",
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
        "-extfile san.ext -out server.crt",
    ]
    for command in commands:
        subprocess.run(
            ["openssl", *command.split()], cwd=directory, check=True, capture_output=True
        )


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh private redis-server for one test."""
    server = RedisServer(require_redis_server(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop(kill=True)


@pytest.fixture
def tls_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server that only speaks TLS, with a throwaway CA."""
    server = RedisServer(require_redis_server(), tmp_path, tls=True)
    server.start()
    try:
        yield server
    finally:
        server.stop(kill=True)
