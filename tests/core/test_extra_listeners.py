"""EventBus.set_extra_listeners: listeners added after the bus is built, while it is stopped."""

from __future__ import annotations

import pytest

from typed_events import EmitterNotRunningError, Event, EventBus, ListenerSignatureError, listener

pytestmark = pytest.mark.anyio


class Tick(Event, event_id="extra_tick"):
    n: int


seen: list[str] = []


@listener(Tick)
async def own(n: int) -> None:
    seen.append(f"own {n}")


@listener("extra_tick")
async def extra(n: int) -> None:
    seen.append(f"extra {n}")


@listener(Tick)
def extra_sync(event: Tick) -> None:
    seen.append(f"extra sync {event.n}")


async def test_extra_listeners_get_every_emit_after_the_own_ones() -> None:
    seen.clear()
    bus = EventBus([own])
    bus.set_extra_listeners([extra, extra_sync])
    assert bus.listeners == (own, extra, extra_sync)
    assert bus.extra_listeners == (extra, extra_sync)
    async with bus:
        result = await bus.emit_and_wait(Tick(n=1))
        bus.emit(Tick(n=2))
    assert [o.listener for o in result.outcomes] == [own, extra, extra_sync]
    assert sorted(seen) == ["extra 1", "extra 2", "extra sync 1", "extra sync 2", "own 1", "own 2"]


async def test_a_second_call_replaces_the_extra_listeners_and_an_empty_one_removes_them() -> None:
    bus = EventBus([own])
    bus.set_extra_listeners([extra])
    bus.set_extra_listeners([extra_sync])
    assert [item.func for item in bus.listeners] == [own.func, extra_sync.func]
    bus.set_extra_listeners(())
    assert [item.func for item in bus.listeners] == [own.func]
    assert bus.extra_listeners == ()


async def test_a_string_id_of_an_extra_listener_resolves_and_becomes_emittable() -> None:
    bus = EventBus()
    assert "extra_tick" not in bus.registry
    bus.set_extra_listeners([extra])
    assert bus.registry.get("extra_tick") is Tick
    seen.clear()
    async with bus:
        await bus.emit_and_wait("extra_tick", n=5)
    assert seen == ["extra 5"]


async def test_a_broken_extra_listener_is_refused_and_the_bus_keeps_its_wiring() -> None:
    @listener(Tick)
    async def broken(count: int) -> None: ...

    bus = EventBus([own])
    bus.set_extra_listeners([extra])
    with pytest.raises(ListenerSignatureError, match='"count" is required'):
        bus.set_extra_listeners([broken])
    assert bus.listeners == (own, extra)


async def test_the_routing_does_not_change_while_the_bus_runs() -> None:
    bus = EventBus([own])
    async with bus:
        with pytest.raises(EmitterNotRunningError, match="while the bus is running"):
            bus.set_extra_listeners([extra])
    assert bus.listeners == (own,)
