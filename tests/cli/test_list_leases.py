"""``typed-events list APP --leases``: who holds each partition, read from the app's Redis.

The leases are taken by :class:`PartitionLeases` members running in the test, as the
backend's consumers would; the command runs in a subprocess against ``partitioned_app``,
whose backend gets the private server's URL through ``SHOP_REDIS_URL``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from functools import partial

import anyio
import anyio.to_thread
import pytest

from tests.redis.conftest import RedisServer, free_port
from tests.redis.helpers import eventually
from typed_events.backends.redis._client import open_client
from typed_events.backends.redis._leases import PartitionLeases
from typed_events.backends.redis._partitions import PartitionKeys

from .conftest import Run, run_cli

GROUP = "shop:partitioned_app.ship"  # {service}:{the ordered listener's qualified name}
PARTITIONS = 1  # partitioned_app leaves `partitions` at the backend's default
LEASE = 30.0  # long: nothing expires while the command reads


async def cli(server: RedisServer, *args: str) -> Run:
    command = partial(run_cli, env={"SHOP_REDIS_URL": server.url})
    return await anyio.to_thread.run_sync(lambda: command("list", "partitioned_app:bus", *args))


@asynccontextmanager
async def members(server: RedisServer, *names: str) -> AsyncGenerator[list[PartitionLeases]]:
    """Members of the ``ship`` group holding their shares, released on exit."""
    keys = PartitionKeys("typed-events:", "order_placed", GROUP, PARTITIONS)
    async with open_client(server.url) as client, anyio.create_task_group() as tasks:
        running = [PartitionLeases(client, keys, member=n, lease_time=LEASE) for n in names]
        for leases in running:
            await tasks.start(leases.run)
        # A member that joined after another holds nothing until the next heartbeat
        # rebalances; wait until every partition is held, as the command then sees it.
        await eventually(
            lambda: sum(len(leases.held) for leases in running) == PARTITIONS,
            "every partition held",
        )
        try:
            yield running
        finally:
            for leases in running:
                await leases.release_all()


@pytest.mark.redis
@pytest.mark.anyio
async def test_json_shows_each_partitions_holder_token_and_the_live_members(
    redis_server: RedisServer,
) -> None:
    async with members(redis_server, "host-a:1:aaa", "host-b:2:bbb") as running:
        result = await cli(redis_server, "--leases", "--format", "json")
        holders = {p: leases.member for leases in running for p in leases.held}
        tokens = {p: leases.token(p) for leases in running for p in leases.held}

    assert (result.code, result.err) == (0, "")
    report = json.loads(result.out)
    assert report["url"] == redis_server.url
    assert report["partitions"] == PARTITIONS
    [group] = report["groups"]
    assert (group["event_id"], group["listener"], group["group"]) == (
        "order_placed", "partitioned_app.ship", GROUP,
    )  # fmt: skip
    assert [m["member"] for m in group["members"]] == ["host-a:1:aaa", "host-b:2:bbb"]
    assert all(0 < m["expires_in"] <= LEASE for m in group["members"])
    assert [lease["partition"] for lease in group["leases"]] == list(range(PARTITIONS))
    for lease in group["leases"]:
        assert lease["holder"] == holders[lease["partition"]]
        assert lease["token"] == tokens[lease["partition"]]
        assert 0 < lease["expires_in"] <= LEASE
    # The ordered listener of the event without a key has no leases, and says so.
    assert report["unpartitioned"] == [
        {"event_id": "stock_counted", "listener": "partitioned_app.recount"}
    ]


@pytest.mark.redis
@pytest.mark.anyio
async def test_plain_text_lists_holders_and_members_then_shows_them_gone(
    redis_server: RedisServer,
) -> None:
    async with members(redis_server, "host-a:1:aaa"):
        held = await cli(redis_server, "--leases")
    released = await cli(redis_server, "--leases")

    assert (held.code, held.err) == (0, "")
    lines = held.out.splitlines()
    assert lines[:4] == [
        "order_placed  ordered listener partitioned_app.ship",
        f"  group {GROUP}, {PARTITIONS} partition(s)",
        "  live members:",
        lines[3],
    ]
    assert lines[3].startswith("    host-a:1:aaa  expires in ")
    assert lines[4].split() == ["PARTITION", "HOLDER", "TOKEN", "EXPIRES", "IN"]
    assert lines[5].split()[:3] == ["0", "host-a:1:aaa", "1"]
    assert f"  {PARTITIONS} of {PARTITIONS} partition(s) held" in lines
    assert "stock_counted: ordered listener partitioned_app.recount reads one stream" in held.out

    assert released.code == 0
    assert "    (none: no process of this group runs)" in released.out.splitlines()
    assert released.out.splitlines()[5].split() == ["0", "-", "-", "-"]
    assert f"  0 of {PARTITIONS} partition(s) held" in released.out.splitlines()


@pytest.mark.redis
@pytest.mark.anyio
async def test_names_read_from_redis_have_their_control_characters_escaped(
    redis_server: RedisServer,
) -> None:
    hostile = "evil\x1b]0;pwned\x07\x1b[2J\r\u009b:9"
    async with members(redis_server, hostile):
        texts = [await cli(redis_server, "--leases", "--format", f) for f in ("plain", "table")]
        data = await cli(redis_server, "--leases", "--format", "json")

    for text in texts:
        assert text.code == 0
        assert not any(c in text.out for c in "\x1b\x07\r\u009b"), text.out
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J\\x0d\\x9b:9" in texts[0].out
    assert "\x1b" not in data.out
    assert json.loads(data.out)["groups"][0]["members"][0]["member"] == hostile


def test_an_unreachable_redis_is_an_error_naming_the_url_without_its_password() -> None:
    url = f"redis://shop:hunter2@127.0.0.1:{free_port()}/0"

    result = run_cli("list", "partitioned_app:bus", "--leases", env={"SHOP_REDIS_URL": url})

    assert (result.code, result.out) == (2, "")
    assert "hunter2" not in result.err
    assert result.err.startswith(
        f"typed-events: error: cannot read the leases: Redis at "
        f"redis://shop:***@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/0 failed: "
        "Redis unavailable (ConnectionError: "
    )
    assert "Check that redis-server runs there" in result.err


def test_a_bus_not_on_redis_has_no_leases_to_show() -> None:
    result = run_cli("list", "clean_app:bus", "--leases")

    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "typed-events: error: --leases shows the partition leases of a RedisStreamsBackend; "
        "the bus clean_app:bus runs on SimpleEventEmitter, which has no leases. Drop "
        "--leases, or point APP at the bus your Redis processes use\n"
    )


def test_a_list_of_listeners_is_refused_with_leases() -> None:
    result = run_cli("list", "clean_app:listeners", "--leases")

    assert (result.code, result.out) == (2, "")
    assert "is list, not an EventBus; point APP at your EventBus" in result.err


def test_leases_are_not_drawn_in_mermaid() -> None:
    result = run_cli("list", "partitioned_app:bus", "--leases", "--format", "mermaid")

    assert result.code == 2
    assert result.err == (
        "typed-events: error: --leases prints --format auto, table, plain or json, not mermaid\n"
    )
