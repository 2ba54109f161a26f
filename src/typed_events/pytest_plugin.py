"""The typed-events pytest plugin (loaded automatically once typed-events is installed).

- The ``event_capture`` fixture captures what a bus emits during the test::

      def test_signup(event_capture):
          captured = event_capture(bus)
          ...
          captured.assert_emitted(UserCreated, email="a@example.com")

- Strict mode fails a test in which a listener raised an exception that the bus only
  logged (a listener failure never reaches the code that emitted, so a test would pass
  without it). Turn it on for a whole run with ``--typed-events-strict`` (or the ini
  option ``typed_events_strict = true``), or per test with
  ``@pytest.mark.typed_events_strict``; ``@pytest.mark.typed_events_strict(False)``
  turns it off for one test.

Unused, the plugin does nothing: the fixture exists only when a test asks for it, and
strict mode is off unless turned on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from typed_events.bus import EventBus
    from typed_events.testing import CapturedEvents

__all__ = ["EventCapture", "LoggedFailures", "event_capture"]

_LOGGER = "typed_events"
# The `outcome` field of the pipeline's log records (typed_events.dispatch) that mean a
# listener failure nobody saw: a call that finally failed, an on_error that failed.
_FAILURE_OUTCOMES = frozenset({"failed", "on_error failed", "on_error timeout"})
_STRICT_OPTION = "--typed-events-strict"
_failures_key = pytest.StashKey["LoggedFailures"]()

EventCapture = Callable[["EventBus"], "CapturedEvents"]
"""``event_capture(bus)``: start capturing ``bus``; the capture ends with the test."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--typed-events-strict`` and the ini option ``typed_events_strict``."""
    group = parser.getgroup("typed-events")
    group.addoption(
        _STRICT_OPTION,
        action="store_true",
        default=None,
        help="fail tests in which a typed-events listener raised an exception that was only logged",
    )
    parser.addini(
        "typed_events_strict",
        "fail tests in which a typed-events listener failure was only logged",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``typed_events_strict`` marker."""
    config.addinivalue_line(
        "markers",
        "typed_events_strict(enabled=True): fail the test if a typed-events listener raised "
        "an exception that was only logged",
    )


@pytest.fixture
def event_capture() -> Iterator[EventCapture]:
    """A function that starts capturing a bus's events for the rest of the test.

    ``captured = event_capture(bus)`` returns a
    :class:`~typed_events.testing.CapturedEvents`; capture several buses by calling it
    again. Capturing only watches: listeners still run.
    """
    from typed_events.testing import capture_events

    with ExitStack() as stack:

        def start(bus: EventBus) -> CapturedEvents:
            return stack.enter_context(capture_events(bus))

        yield start


class LoggedFailures(logging.Handler):
    """Collects, during one test, the listener failures the bus logged.

    Those are the ERROR records whose structured ``outcome`` field says a listener call
    failed after its retries, or an ``on_error`` handler raised or timed out; other errors
    of the library (a backend's connection trouble) are not listener failures.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.reported = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Keep ``record`` if it reports a listener failure."""
        if getattr(record, "outcome", None) in _FAILURE_OUTCOMES:
            self.records.append(record)

    def new_failures(self) -> list[logging.LogRecord]:
        """The records not yet turned into a test failure."""
        fresh = self.records[self.reported :]
        self.reported = len(self.records)
        return fresh


def _strict(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("typed_events_strict")
    if marker is not None:
        return bool(marker.args[0]) if marker.args else bool(marker.kwargs.get("enabled", True))
    option = item.config.getoption(_STRICT_OPTION)
    if option is not None:
        return bool(option)
    return bool(item.config.getini("typed_events_strict"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """In strict mode, start collecting listener failures before the fixtures run."""
    if _strict(item):
        handler = LoggedFailures()
        logging.getLogger(_LOGGER).addHandler(handler)
        item.stash[_failures_key] = handler
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Fail the test if a listener failure was logged during setup or the test itself."""
    try:
        result = yield
    except BaseException:
        # The test failed on its own: its own error is the one to show, and the
        # logged failures must not be reported again at teardown.
        handler = item.stash.get(_failures_key, None)
        if handler is not None:
            handler.new_failures()
        raise
    _fail_on_logged_failures(item, "test")
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """Fail the teardown for failures logged there (a bus fixture draining on exit)."""
    try:
        result = yield
    finally:
        handler = item.stash.get(_failures_key, None)
        if handler is not None:
            logging.getLogger(_LOGGER).removeHandler(handler)
    _fail_on_logged_failures(item, "teardown")
    return result


def _fail_on_logged_failures(item: pytest.Item, phase: str) -> None:
    handler = item.stash.get(_failures_key, None)
    if handler is None:
        return
    failures = handler.new_failures()
    if not failures:
        return
    count = len(failures)
    noun = "failure was" if count == 1 else "failures were"
    lines = [f"typed-events strict mode: {count} listener {noun} only logged during the {phase}:"]
    formatter = logging.Formatter("%(name)s %(levelname)s: %(message)s")
    lines += ["  " + formatter.format(record).replace("\n", "\n  ") for record in failures]
    lines.append(
        "Listener exceptions never reach the code that emits. Fix the listener, or assert the "
        "failure with emit_and_wait() and mark the test @pytest.mark.typed_events_strict(False)."
    )
    pytest.fail("\n".join(lines), pytrace=False)
