"""What one read brings into a consumer's memory, measured in a real consumer process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from typed_events.envelope import encode

from .conftest import RedisServer
from .reader import Blob

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000


def test_max_read_bytes_bounds_what_large_messages_bring_into_memory(
    redis_server: RedisServer,
) -> None:
    client = redis_server.client()
    envelope = encode(Blob(data="x" * (5 * MB)), source="/test")
    pipe = client.pipeline(transaction=False)
    for _ in range(40):  # 200 MB in the stream; the default batch would read all 40 at once
        pipe.xadd("typed-events:blob", {"envelope": envelope})
    pipe.execute()
    reader = subprocess.run(
        [sys.executable, "-m", "tests.redis.reader", redis_server.url, "40", str(12 * MB)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    grew = int(reader.stdout.split()[-1])
    # Two 5 MB messages per read (12 MB // 6 MB), each held a few times over while it is
    # parsed and validated: far below the 200 MB that one unbounded read brings in.
    assert grew < 60 * MB, f"the consumer grew by {grew / MB:.0f} MB"
