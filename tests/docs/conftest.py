"""Fixtures of the docs test: a private redis-server for pages that use ``REDIS_URL``."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .markdown_blocks import MarkerError, Page, parse_page
from .pages import ROOT, doc_pages

_STARTUP_SECONDS = 10.0


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of our own on a free loopback port, stopped after the test.

    Nothing persists: no RDB snapshot, no AOF, and its working directory is the test's
    temporary directory.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed; the Redis docs page needs it (apt install redis-server)"
        )
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_ping(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_ping(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"redis-server exited with {process.returncode} at startup: {errors}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"redis-server did not answer PING on port {port} within {_STARTUP_SECONDS}s")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many docs blocks run and list every fragment with its reason."""
    pages: list[Page] = []
    for path in doc_pages():
        try:
            pages.append(parse_page((ROOT / path).read_text(encoding="utf-8"), path, ROOT))
        except MarkerError:
            continue  # its page test fails and says why
    runnable = sum(len(page.runnable) for page in pages)
    fragments = [block for page in pages for block in page.fragments]
    terminalreporter.write_sep("-", "docs code blocks")
    terminalreporter.write_line(
        f"{runnable} python block(s) run across {len(pages)} page(s); "
        f"{len(fragments)} fragment(s) not run:"
    )
    for block in fragments:
        terminalreporter.write_line(f"  {block.where}: {block.fragment_reason or '(NO REASON)'}")
