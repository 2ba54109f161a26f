"""Hostile input against a real redis-server: messages built to crash, fool or flood a
consumer, replays that do not fit, and what the CLI prints of what Redis holds."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import anyio.to_thread
import pytest

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend, RedisUnavailableError
from typed_events.cli import main
from typed_events.envelope import encode

from .blocking import BlockingRedis
from .conftest import RedisServer, free_port
from .helpers import dead_letters, eventually

pytestmark = [pytest.mark.redis, pytest.mark.anyio]

STREAM = "typed-events:reading"
NESTED = b"[" * 10_000


class Reading(Event, event_id="reading"):
    n: int


def settled(client: BlockingRedis, stream: str = STREAM) -> bool:
    """Every group of ``stream`` has read it to the end and acknowledged everything."""
    last = client.last_id(stream)
    groups = client.groups(stream)
    return bool(groups) and all(
        g["pending"] == 0 and g["last-delivered-id"] == last for g in groups
    )


async def run_cli(*argv: str) -> int:
    return await anyio.to_thread.run_sync(partial(main, list(argv)))


async def test_an_envelope_nested_ten_thousand_deep_is_dead_lettered_and_the_consumer_lives(
    redis_server: RedisServer,
) -> None:
    seen: list[int] = []

    @listener(Reading)
    async def collect(event: Reading) -> None:
        seen.append(event.n)

    client = redis_server.client()
    head = b'{"specversion":"1.0","id":"x","source":"/t","type":"reading","data":'
    bare = client.xadd(STREAM, {"envelope": NESTED})
    client.xadd(STREAM, {"envelope": head + NESTED + b"}"})
    client.xadd(STREAM, {"envelope": encode(Reading(n=1), source="/test")})
    async with EventBus([collect], backend=RedisStreamsBackend(redis_server.url, service="m")):
        await eventually(lambda: seen == [1], "the good message after the poison")
        await eventually(lambda: len(dead_letters(client)) == 2, "two dead letters")
        await eventually(lambda: settled(client), "everything acknowledged")
    letters = dead_letters(client)
    assert [letter.reason for letter in letters] == ["bad json", "bad json"]
    assert all("nested too deep" in letter.detail for letter in letters)
    # (Handled concurrently, the two may be dead-lettered in either order.)
    by_entry = {letter.message_id: letter.envelope for letter in letters}
    assert by_entry[bare.decode() if isinstance(bare, bytes) else str(bare)] == NESTED


async def test_the_delivery_count_guard_runs_before_decoding(redis_server: RedisServer) -> None:
    @listener(Reading)
    async def never_reached(event: Reading) -> None:
        raise AssertionError("not to be called")

    group = f"m:{never_reached.name}"
    client = redis_server.client()
    client.xgroup_create(STREAM, group, "0", mkstream=True)
    client.xadd(STREAM, {"envelope": b"{not json"})
    # Consumers that read it and died before they could decode it, five times.
    reply: Any = client.xreadgroup(group, "ghost", {STREAM: ">"})
    [[entry]] = reply.values()
    message_id = entry.identifier
    for _ in range(4):
        client.xclaim(STREAM, group, "ghost", 0, [message_id])
    backend = RedisStreamsBackend(redis_server.url, service="m", max_retries=2, claim_idle=0.05)
    async with EventBus([never_reached], backend=backend):
        await eventually(lambda: len(dead_letters(client)) == 1, "the dead letter")
    [letter] = dead_letters(client)
    assert letter.reason == "too many deliveries"  # not "bad json": it was never decoded
    assert letter.attempts == 6
    assert letter.envelope == b"{not json"


async def test_a_replay_is_seen_only_by_the_group_it_is_addressed_to(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    @listener(Reading)
    async def fragile(event: Reading) -> None: ...

    @listener(Reading)
    async def steady(event: Reading) -> None: ...

    client = redis_server.client()
    bad = json.loads(encode(Reading(n=0), source="/test"))
    bad["data"] = {"n": "twelve"}
    client.xadd(STREAM, {"envelope": json.dumps(bad).encode()})
    url = redis_server.url
    async with EventBus([fragile, steady], backend=RedisStreamsBackend(url, service="s")):
        await eventually(lambda: len(dead_letters(client)) == 2, "one letter per group")
        [first] = [d for d in dead_letters(client) if d.listener == fragile.name]
        assert await run_cli("dead-letter", "replay", first.id, "--url", url) == 0
        # Still invalid: the addressed group dead-letters it again, and no other group.
        await eventually(lambda: len(dead_letters(client)) == 2, "the replay handled")
        await eventually(lambda: settled(client), "every group past the replay")
    letters = dead_letters(client)
    assert sorted(letter.listener for letter in letters) == sorted([fragile.name, steady.name])
    assert [d.reason for d in letters] == ["invalid data", "invalid data"]
    assert first.id not in [d.id for d in letters]  # the replayed one is a new letter


async def test_a_replay_for_a_group_that_does_not_exist_is_refused_into_the_dead_letters(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []

    @listener(Reading)
    async def one(event: Reading) -> None:
        calls.append("one")

    @listener(Reading)
    async def two(event: Reading) -> None:
        calls.append("two")

    client = redis_server.client()
    envelope = encode(Reading(n=3), source="/test")
    client.xadd(STREAM, {"envelope": envelope, "replay-for": b"s:app.renamed_listener"})
    # An envelope's own attributes cannot address a replay: this one reaches both groups.
    marked = json.loads(encode(Reading(n=4), source="/test"))
    marked["typedeventsreplay"] = f"s:{one.name}"
    client.xadd(STREAM, {"envelope": json.dumps(marked).encode()})
    async with EventBus([one, two], backend=RedisStreamsBackend(redis_server.url, service="s")):
        await eventually(lambda: len(dead_letters(client)) == 1, "the refused replay")
        await eventually(lambda: settled(client), "both groups past both messages")
        await eventually(lambda: sorted(calls) == ["one", "two"], "the normal message")
    [letter] = dead_letters(client)
    assert letter.reason == "bad replay"
    assert "'s:app.renamed_listener'" in letter.detail
    assert f"s:{one.name}" in letter.detail  # the groups that do exist
    assert letter.envelope == envelope
    assert letter.group == "s:app.renamed_listener"  # found by the name it was sent to
    # The CLI does not send a replay to a group that is gone.
    assert await run_cli("dead-letter", "replay", letter.id, "--url", redis_server.url) == 1
    assert "has no consumer group 's:app.renamed_listener'" in capsys.readouterr().err
    assert client.xlen(STREAM) == 2  # nothing was sent


ESCAPES = "\x1b]0;owned\x07\x1b[2J\r\x9b"


async def test_the_cli_escapes_control_characters_from_redis(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    client = redis_server.client()
    client.xadd(
        "typed-events:dead-letter",
        {
            "reason": f"listener failed{ESCAPES}",
            "detail": f"RuntimeError: {ESCAPES}",
            "group": f"s:g{ESCAPES}",
            "stream": STREAM,
            "envelope": f"not json {ESCAPES}\nsecond line".encode(),
        },
    )
    [letter] = dead_letters(client)
    url = redis_server.url
    assert await run_cli("dead-letter", "list", "--url", url) == 1
    assert await run_cli("dead-letter", "inspect", letter.id, "--url", url) == 0
    client.xadd(
        "typed-events:dead-letter",
        {"detail": ESCAPES, "envelope": json.dumps({"data": ESCAPES}).encode()},
    )
    [_, second] = dead_letters(client)
    assert await run_cli("dead-letter", "inspect", second.id, "--url", url) == 0
    out = capsys.readouterr().out
    for char in "\x1b\x07\r\x9b":
        assert char not in out
    assert "\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x9b" in out
    assert "second line" in out


async def test_a_password_in_the_query_is_masked_in_errors_and_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0?password=hunter2"  # nothing listens there
    with pytest.raises(RedisUnavailableError) as info:
        async with EventBus(events=[Reading], backend=RedisStreamsBackend(url, service="s")):
            pass
    assert "hunter2" not in str(info.value)
    assert "?password=***" in str(info.value)
    assert await run_cli("dead-letter", "list", "--url", url) == 2
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert "?password=***" in err
