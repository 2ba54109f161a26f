"""The pytest plugin: the ``event_capture`` fixture and strict mode, run by a real pytest."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]

# The inner tests run a bus with anyio.run(), so they need no async plugin. Their ids are
# unique to this module: inner runs share this process's live event classes.
APP = """
import anyio
import pytest
from typed_events import Event, EventBus, listener

class PluginProbe(Event, event_id="plugin_probe"):
    n: int

@listener(PluginProbe)
async def fragile(event: PluginProbe) -> None:
    if event.n < 0:
        raise ValueError("negative n")

bus = EventBus(listeners=[fragile])

def emit_and_drain(n: int) -> None:
    async def run() -> None:
        async with bus:
            bus.emit(PluginProbe(n=n))
    anyio.run(run)
"""


def _tests(source: str) -> str:
    return APP + textwrap.dedent(source)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # pytest-asyncio warns about its unset ini option in every inner run; it is not needed.
    return pytester.runpytest("-p", "no:asyncio", *args)


def test_event_capture_records_and_stops_with_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _tests(
            """
            CAPTURES = []

            def test_captures(event_capture):
                captured = event_capture(bus)
                CAPTURES.append(captured)
                emit_and_drain(3)
                captured.assert_emitted(PluginProbe, n=3)
                assert len(captured) == 1

            def test_capture_ended_with_the_previous_test():
                emit_and_drain(4)
                assert len(CAPTURES[0]) == 1
            """
        )
    )
    _run(pytester).assert_outcomes(passed=2)


def test_logged_listener_failures_pass_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _tests(
            """
            def test_failure_only_logged():
                emit_and_drain(-1)
            """
        )
    )
    _run(pytester).assert_outcomes(passed=1)


def test_the_marker_fails_a_test_whose_listener_failed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _tests(
            """
            @pytest.mark.typed_events_strict
            def test_strict():
                emit_and_drain(-1)

            @pytest.mark.typed_events_strict
            def test_strict_and_fine():
                emit_and_drain(1)
            """
        )
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*typed-events strict mode: 1 listener failure was only logged during the test:",
            "*typed_events ERROR: listener test_the_marker_fails_a_test_whose_listener_failed."
            "fragile (*.py:*) failed on event 'plugin_probe': ValueError('negative n')",
            '*raise ValueError("negative n")',
            "*Listener exceptions never reach the code that emits.*",
        ]
    )


def test_the_option_turns_strict_mode_on_and_the_marker_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _tests(
            """
            def test_strict_by_option():
                emit_and_drain(-1)

            @pytest.mark.typed_events_strict(False)
            def test_opted_out():
                emit_and_drain(-1)
            """
        )
    )
    result = _run(pytester, "--typed-events-strict")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED *::test_strict_by_option*"])


def test_the_ini_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntyped_events_strict = true\n")
    pytester.makepyfile(_tests("def test_strict_by_ini():\n    emit_and_drain(-1)\n"))
    _run(pytester).assert_outcomes(failed=1)


def test_a_failure_during_a_fixtures_teardown_errors_the_teardown(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _tests(
            """
            @pytest.fixture
            def drained_on_exit():
                yield
                emit_and_drain(-5)

            @pytest.mark.typed_events_strict
            def test_body_is_fine(drained_on_exit):
                pass
            """
        )
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*only logged during the teardown*"])


def test_a_test_failing_on_its_own_keeps_its_own_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _tests(
            """
            @pytest.mark.typed_events_strict
            def test_fails_itself():
                emit_and_drain(-1)
                assert 1 == 2
            """
        )
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 1 == 2*"])


def test_the_plugin_is_loaded_from_its_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(_tests("def test_strict():\n    emit_and_drain(-1)\n"))
    result = pytester.runpytest_subprocess("-p", "no:asyncio", "--typed-events-strict")
    result.assert_outcomes(failed=1)


def test_importing_the_plugin_alone_works() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import typed_events.pytest_plugin as p; print(p.event_capture)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_other_errors_of_the_library_do_not_fail_a_strict_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _tests(
            """
            import logging

            @pytest.mark.typed_events_strict
            def test_backend_trouble_is_not_a_listener_failure():
                logging.getLogger("typed_events").error("redis refused a command")

            @pytest.mark.typed_events_strict
            def test_a_failing_on_error_handler_is_one():
                def on_error(event, listener, exc):
                    raise RuntimeError("the handler itself is broken")

                strict_bus = EventBus(listeners=[fragile], on_error=on_error)

                async def run() -> None:
                    async with strict_bus:
                        strict_bus.emit(PluginProbe(n=-2))

                anyio.run(run)
            """
        )
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*2 listener failures were only logged during the test:",
            "*on_error handler * raised while handling a failure of listener*",
        ]
    )
