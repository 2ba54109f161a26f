"""``typed-events dead-letter``: list, inspect, replay and delete, through the real command."""

from __future__ import annotations

import json
from functools import partial

import anyio.to_thread
import pytest

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend, current_delivery
from typed_events.cli import main

from .conftest import RedisServer
from .helpers import dead_letters, eventually

pytestmark = [pytest.mark.redis, pytest.mark.anyio]


class Invoice(Event, event_id="invoice"):
    number: int


async def run_cli(*argv: str) -> int:
    # The command is synchronous (it runs an event loop of its own): run it in a thread.
    return await anyio.to_thread.run_sync(partial(main, list(argv)))


async def test_a_replayed_dead_letter_reaches_only_the_listener_that_failed(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = True
    fragile_ids: list[str] = []
    steady_ids: list[str] = []

    @listener(Invoice)
    async def fragile(event: Invoice) -> None:
        if broken:
            raise ConnectionRefusedError("mail server down")
        delivery = current_delivery()
        assert delivery is not None
        fragile_ids.append(delivery.id)

    @listener(Invoice)
    async def steady(event: Invoice) -> None:
        delivery = current_delivery()
        assert delivery is not None
        steady_ids.append(delivery.id)

    url = redis_server.url
    client = redis_server.client()
    client.xadd("typed-events:invoice", {"envelope": b"{oops"})
    backend = RedisStreamsBackend(url, service="billing", max_retries=0, claim_idle=5.0)
    async with EventBus([fragile, steady], backend=backend) as bus:
        await bus.emit_async(Invoice(number=7))
        await eventually(
            lambda: len(dead_letters(client)) == 3, "two bad-json letters, one failure"
        )
        await eventually(lambda: len(steady_ids) == 1, "the steady listener")
        capsys.readouterr()

        assert await run_cli("dead-letter", "list", "--url", url) == 1
        listing = capsys.readouterr().out
        assert "3 dead letter(s) in typed-events:dead-letter" in listing
        assert "listener failed" in listing
        assert "ConnectionRefusedError: mail server down" in listing

        code = await run_cli("dead-letter", "list", "--url", url, "--reason", "listener failed",
                             "--format", "json")  # fmt: skip
        assert code == 1
        [failure] = json.loads(capsys.readouterr().out)
        assert failure["group"] == "billing:" + fragile.name
        assert failure["envelope_id"] == steady_ids[0]
        assert failure["attempts"] == 1

        assert await run_cli("dead-letter", "inspect", failure["id"], "--url", url) == 0
        shown = capsys.readouterr().out
        assert "reason:       listener failed" in shown
        assert '"type": "invoice"' in shown
        assert '"number": 7' in shown

        bad_json = [d.id for d in dead_letters(client) if d.reason == "bad json"]
        assert await run_cli("dead-letter", "replay", bad_json[0], "--url", url) == 1
        assert "holds no JSON object envelope" in capsys.readouterr().err

        broken = False
        code = await run_cli("dead-letter", "replay", "--all", "--listener", "fragile",
                             "--reason", "listener failed", "--url", url)  # fmt: skip
        assert code == 0
        assert f"replayed {failure['id']} to typed-events:invoice" in capsys.readouterr().out
        await eventually(lambda: fragile_ids == steady_ids, "the replay to reach fragile")
        # The other listener's group skipped the replay: it handled the event already.
        assert len(steady_ids) == 1
        assert [d.reason for d in dead_letters(client)] == ["bad json", "bad json"]

    assert await run_cli("dead-letter", "delete", "--all", "--url", url) == 0
    assert "deleted 2 dead letter(s)" in capsys.readouterr().out
    assert await run_cli("dead-letter", "list", "--url", url) == 0
    assert "no dead letters in typed-events:dead-letter" in capsys.readouterr().out


async def test_usage_errors_and_an_unreachable_redis_exit_2_without_a_traceback(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_cli("dead-letter") == 2
    assert "replay" in capsys.readouterr().err

    assert await run_cli("dead-letter", "replay", "--url", redis_server.url) == 2
    assert "name dead letter IDs, or pass --all" in capsys.readouterr().err

    assert await run_cli("dead-letter", "inspect", "1-1", "--url", redis_server.url) == 2
    assert "no dead letter 1-1 in typed-events:dead-letter" in capsys.readouterr().err

    unreachable = "redis://admin:s3cret@127.0.0.1:1/0"
    assert await run_cli("dead-letter", "list", "--url", unreachable) == 2
    error = capsys.readouterr().err
    assert "typed-events: error: Redis at redis://admin:***@127.0.0.1:1/0 failed" in error
    assert "s3cret" not in error
    assert "Traceback" not in error


async def test_dry_run_keep_and_delete_by_id(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    @listener(Invoice)
    async def refuse(event: Invoice) -> None:
        raise ValueError("no")

    url = redis_server.url
    client = redis_server.client()
    backend = RedisStreamsBackend(url, service="billing", max_retries=0)
    async with EventBus([refuse], backend=backend) as bus:
        await bus.emit_async(Invoice(number=1))
        await bus.emit_async(Invoice(number=2))
        await eventually(lambda: len(dead_letters(client)) == 2, "two dead letters")
    first, second = (d.id for d in dead_letters(client))
    capsys.readouterr()

    assert await run_cli("dead-letter", "replay", first, "--dry-run", "--url", url) == 0
    assert f"would replay {first} to typed-events:invoice" in capsys.readouterr().out
    assert client.xlen("typed-events:invoice") == 2  # nothing sent

    assert await run_cli("dead-letter", "replay", first, "--keep", "--url", url) == 0
    assert client.xlen("typed-events:invoice") == 3
    assert [d.id for d in dead_letters(client)] == [first, second]  # kept

    assert await run_cli("dead-letter", "delete", second, "--url", url) == 0
    assert "deleted 1 dead letter(s)" in capsys.readouterr().out
    assert [d.id for d in dead_letters(client)] == [first]

    assert await run_cli("dead-letter", "list", "--url", "redis://127.0.0.1:notaport") == 2
    assert "typed-events: error:" in capsys.readouterr().err
