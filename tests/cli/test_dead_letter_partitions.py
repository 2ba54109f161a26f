"""``typed-events dead-letter list/inspect`` name the partition a dead letter came from."""

from __future__ import annotations

import json

import pytest

from tests.redis.conftest import RedisServer
from typed_events.backends.redis._dead_letter import DeadLetter
from typed_events.backends.redis._keys import dead_letter_key, stream_key
from typed_events.backends.redis._partitions import partition_stream_key

from .conftest import run_cli

pytestmark = pytest.mark.redis

PREFIX = "typed-events:"


def write_dead_letter(server: RedisServer, stream: str, event_type: str) -> str:
    letter = DeadLetter.create(
        reason="listener failed",
        detail="RuntimeError: carrier down",
        stream=stream,
        message_id="1-0",
        group="shop:partitioned_app.ship",
        listener="partitioned_app.ship",
        consumer="host:1:abc",
        attempts=6,
        envelope=b'{"specversion": "1.0"}',
        event_type=event_type,
    )
    entry_id = server.client().xadd(dead_letter_key(PREFIX), letter.to_fields())
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def test_list_and_inspect_show_the_partition_of_a_partition_stream(
    redis_server: RedisServer,
) -> None:
    sources = [
        (partition_stream_key(PREFIX, "order_placed", 3, cluster=False), "order_placed", 3),
        (partition_stream_key(PREFIX, "order_placed", 11, cluster=True), "order_placed", 11),
        (stream_key(PREFIX, "stock_counted"), "stock_counted", None),
        # An event whose own id ends in ":3" on its unpartitioned stream: no partition.
        (stream_key(PREFIX, "recount:3"), "recount:3", None),
    ]
    ids = [write_dead_letter(redis_server, stream, event) for stream, event, _ in sources]
    url = ["--url", redis_server.url]

    listing = run_cli("dead-letter", "list", *url)
    as_json = run_cli("dead-letter", "list", *url, "--format", "json")
    inspected = [run_cli("dead-letter", "inspect", i, *url).out for i in ids]

    assert listing.code == 1  # there are dead letters
    header, *rows, summary = listing.out.splitlines()
    assert header.split()[:6] == ["ID", "REASON", "LISTENER", "GROUP", "EVENT", "PARTITION"]
    column = header.index("PARTITION")
    assert [row[column:].split()[0] for row in rows] == ["3", "11", "-", "-"]
    assert summary == f"4 dead letter(s) in {dead_letter_key(PREFIX)}"
    assert [d["partition"] for d in json.loads(as_json.out)] == [3, 11, None, None]
    assert [d["stream"] for d in json.loads(as_json.out)] == [s for s, _, _ in sources]
    partitions = [
        next(line for line in text.splitlines() if line.startswith("partition:"))
        for text in inspected
    ]
    assert partitions == [
        "partition:    3",
        "partition:    11",
        "partition:    -",
        "partition:    -",
    ]
    inspected_json = run_cli("dead-letter", "inspect", ids[1], *url, "--format", "json")
    assert json.loads(inspected_json.out)["partition"] == 11


def test_the_partition_is_read_with_the_prefix_the_command_is_given(
    redis_server: RedisServer,
) -> None:
    stream = partition_stream_key("shop:", "order_placed", 5, cluster=False)
    letter = DeadLetter.create(
        reason="bad json", detail="", stream=stream, message_id="1-0", group="g",
        listener="l", consumer="c", attempts=1, envelope=b"{oops",
    )  # fmt: skip
    redis_server.client().xadd(dead_letter_key("shop:"), letter.to_fields())

    shown = run_cli("dead-letter", "list", "--url", redis_server.url, "--prefix", "shop:",
                    "--format", "json")  # fmt: skip

    # No event type (the envelope was not JSON): the stream's name alone tells.
    assert [d["partition"] for d in json.loads(shown.out)] == [5]
