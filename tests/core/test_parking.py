"""Worker parking: wake-ups are not lost, cancellation while parked is clean."""

from __future__ import annotations

import anyio
import pytest

from typed_events.backends._parking import Parking, _AnyioParking, parking_for_current_loop

pytestmark = pytest.mark.anyio


async def _park_then_unpark(parking: Parking) -> None:
    woke = anyio.Event()

    async def sleeper() -> None:
        await parking.park()
        woke.set()

    async with anyio.create_task_group() as group:
        group.start_soon(sleeper)
        await anyio.sleep(0.01)
        assert not woke.is_set()
        parking.unpark()
        await woke.wait()
    parking.unpark()  # not parked any more: harmless


async def _cancel_while_parked(parking: Parking) -> None:
    with anyio.move_on_after(0.01) as scope:
        await parking.park()
    assert scope.cancelled_caught
    parking.unpark()  # the cancelled park left nothing behind to wake


async def test_the_loops_own_parking_wakes_and_cancels() -> None:
    new_parking = parking_for_current_loop()
    await _park_then_unpark(new_parking())
    await _cancel_while_parked(new_parking())


async def test_the_generic_anyio_parking_wakes_and_cancels() -> None:
    await _park_then_unpark(_AnyioParking())
    await _cancel_while_parked(_AnyioParking())


async def test_the_base_class_is_abstract() -> None:
    with pytest.raises(NotImplementedError):
        await Parking().park()
    with pytest.raises(NotImplementedError):
        Parking().unpark()
