"""What one read brings into a consumer's memory, measured in a real consumer process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from typed_events.backends.redis._client import Client
from typed_events.envelope import encode

from .conftest import RedisServer
from .reader import Blob

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
MB = 1_000_000


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_max_read_bytes_bounds_what_large_messages_bring_into_memory(
    redis_server: RedisServer, loop: str
) -> None:
    envelope = encode(Blob(data="x" * (5 * MB)), source="/test")

    async def write(client: Client) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(40):  # 200 MB in the stream; one unbounded read takes all 40
                pipe.xadd("typed-events:blob", {"envelope": envelope})

    redis_server.client().run(write)
    reader = subprocess.run(
        [sys.executable, "-m", "tests.redis.reader", redis_server.url, "40", str(12 * MB), loop],
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
