"""Fixtures of the docs test: a private redis-server for pages that use ``REDIS_URL``, a
private PostgreSQL database for pages that use ``DATABASE_URL``; the summary of the docs
blocks run and skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis.conftest import RedisServer, require_redis_server
from tests.sqlalchemy.conftest import postgres_server as postgres_server
from tests.sqlalchemy.conftest import postgres_url as postgres_url

from .markdown_blocks import MarkerError, Page, parse_page
from .pages import ROOT, doc_pages


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A private redis-server on a free loopback port, stopped after the test.

    The Redis tests' server helper, so both follow one policy (a missing redis-server
    fails the test unless ``TYPED_EVENTS_ALLOW_NO_REDIS=1``).
    """
    server = RedisServer(require_redis_server(), tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many docs blocks run and list every fragment with its reason."""
    pages: list[Page] = []
    for path in doc_pages():
        try:
            pages.append(parse_page((ROOT / path).read_text(encoding="utf-8"), path))
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
