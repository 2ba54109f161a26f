"""What is refused when an event class is defined (issue 11, holes 5 and 10), and how a
failed listener is logged (hole 13)."""

from __future__ import annotations

import logging

import pytest
from pydantic import ConfigDict

from typed_events import Event, EventBus, EventDefinitionError, listener


@pytest.mark.filterwarnings('ignore:Field name "event_id":UserWarning')  # pydantic's own hint
def test_a_field_named_event_id_is_refused_at_class_definition() -> None:
    with pytest.raises(EventDefinitionError, match=r"field named 'event_id'.*rename the field"):

        class Shadowing(Event):  # pyright: ignore[reportUnusedClass]
            event_id: str  # type: ignore[misc]  # the mistake under test


@pytest.mark.parametrize(
    "config", [ConfigDict(frozen=False), ConfigDict(extra="allow"), ConfigDict(extra="ignore")]
)
def test_configs_that_unfreeze_an_event_or_allow_extras_are_refused(config: ConfigDict) -> None:
    with pytest.raises(EventDefinitionError, match="events must stay frozen=True, extra='forbid'"):

        class Loose(Event):  # pyright: ignore[reportUnusedClass]
            model_config = config
            n: int


@pytest.mark.parametrize("bad", ["", "user created", "tab\there", "new\nline", "a/b", "ü", "x\x00"])
def test_event_ids_outside_the_safe_alphabet_are_refused(bad: str) -> None:
    with pytest.raises(EventDefinitionError, match=r"letters, digits and _ \. : -"):

        class Bad(Event, event_id=bad):  # pyright: ignore[reportUnusedClass]
            n: int


def test_ids_made_of_the_safe_alphabet_are_accepted() -> None:
    class Good(Event, event_id="billing.invoice:paid-v2_x"):
        n: int

    assert Good.event_id == "billing.invoice:paid-v2_x"


def test_a_frozen_subclass_config_is_accepted() -> None:
    class Strict(Event):
        model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
        name: str

    assert Strict(name=" a ").name == "a"


@pytest.mark.anyio
async def test_a_failed_listeners_log_shows_the_users_frames_not_the_pipelines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Boom(Event, event_id="defs_boom"):
        n: int

    @listener(Boom)
    async def explodes(n: int) -> None:
        raise RuntimeError(f"bad {n}")

    bus = EventBus(listeners=[explodes])
    with caplog.at_level(logging.ERROR, logger="typed_events"):
        async with bus:
            bus.emit(Boom(n=1))
    [record] = [r for r in caplog.records if getattr(r, "outcome", None) == "failed"]
    assert record.exc_info is not None
    formatted = logging.Formatter().formatException(record.exc_info)
    frames = [line for line in formatted.splitlines() if line.strip().startswith("File ")]
    assert len(frames) == 1, formatted  # the listener's own frame only
    assert "test_definitions.py" in frames[0]
    assert getattr(record, "event_id", None) == "defs_boom"
    assert getattr(record, "listener", None) == explodes.name
    assert getattr(record, "attempt", None) == 1
    assert bus.stats.failed == 1  # typed: DeliveryStats, on every backend
