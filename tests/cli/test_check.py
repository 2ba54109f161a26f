"""``typed-events check APP``: each kind of finding, in each format, with its exit code."""

from __future__ import annotations

import json

from .conftest import APPS, decorator_line, run_cli

SEED = APPS / "seed_kwargs.py"


def test_a_clean_bus_passes() -> None:
    result = run_cli("check", "clean_app:bus")
    assert result.code == 0, result
    assert result.out == "OK: checked 3 listeners and 2 events in clean_app:bus, no problems.\n"
    assert result.err == ""


def test_a_clean_list_of_listeners_passes() -> None:
    result = run_cli("check", "clean_app:listeners")
    assert (result.code, result.err) == (0, "")
    assert "3 listeners and 2 events" in result.out


def test_the_seeds_missing_kwargs_is_reported_on_each_listener_line() -> None:
    farewell = decorator_line(SEED, "send_farewell_email_handler")
    support = decorator_line(SEED, "notify_customer_support")

    result = run_cli("check", "seed_kwargs:listeners")

    assert result.code == 1
    assert result.out.splitlines() == [
        f"seed_kwargs.py:{farewell}: error: seed_kwargs.send_farewell_email_handler, "
        'event "user_deleted", field "reason": UserDeleted sends this field, '
        'and the listener has no parameter "reason" and no **kwargs',
        "    fix: add a parameter `reason: str`, or `**kwargs: Any`",
        f"seed_kwargs.py:{support}: error: seed_kwargs.notify_customer_support, "
        'event "user_deleted", field "email": UserDeleted sends this field, '
        'and the listener has no parameter "email" and no **kwargs',
        "    fix: add a parameter `email: str`, or `**kwargs: Any`",
        "Failed: 2 errors, 0 warnings (2 listeners and 1 event in seed_kwargs:listeners).",
    ]


def test_github_format_annotates_the_listener_line() -> None:
    farewell = decorator_line(SEED, "send_farewell_email_handler")

    result = run_cli("check", "seed_kwargs:listeners", "--format", "github")

    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == (
        f"::error file=seed_kwargs.py,line={farewell},title=typed-events%3A listener signature::"
        'seed_kwargs.send_farewell_email_handler, event "user_deleted", field "reason": '
        'UserDeleted sends this field, and the listener has no parameter "reason" and no '
        "**kwargs. Fix: add a parameter `reason: str`, or `**kwargs: Any`"
    )
    assert lines[1].startswith("::error file=seed_kwargs.py,line=")
    assert lines[2].startswith("Failed: 2 errors")


def test_github_paths_are_relative_to_the_working_directory() -> None:
    result = run_cli(
        "check",
        "seed_kwargs:listeners",
        "--format",
        "github",
        "--app-dir",
        str(APPS),
        cwd=APPS.parent,
    )
    assert result.code == 1
    assert result.out.startswith("::error file=apps/seed_kwargs.py,line=")


def test_json_format_lists_every_finding_with_its_parts() -> None:
    result = run_cli("check", "seed_kwargs:listeners", "--format", "json")

    assert result.code == 1
    report = json.loads(result.out)
    assert report["ok"] is False
    assert (report["listeners"], report["events"], report["warnings"]) == (2, 1, [])
    first = report["errors"][0]
    assert first["listener"] == "seed_kwargs.send_farewell_email_handler"
    assert (first["event_id"], first["field"]) == ("user_deleted", "reason")
    assert first["file"] == "seed_kwargs.py"
    assert first["line"] == decorator_line(SEED, "send_farewell_email_handler")
    assert first["fix"] == "add a parameter `reason: str`, or `**kwargs: Any`"


def test_json_format_of_a_clean_app() -> None:
    result = run_cli("check", "clean_app:bus", "--format", "json")
    assert result.code == 0
    assert json.loads(result.out) == {
        "app": "clean_app:bus",
        "ok": True,
        "listeners": 3,
        "events": 2,
        "errors": [],
        "warnings": [],
    }


def test_wrong_types_are_reported_with_both_types() -> None:
    result = run_cli("check", "wrong_type:listeners")

    assert result.code == 1
    assert (
        'wrong_type.record_payment, event "order_paid", field "order_id": the field is int, '
        'but parameter "order_id" is annotated str, which cannot accept it'
    ) in result.out
    assert (
        'wrong_type.apply_coupon, event "order_paid", field "coupon": the field is str | None, '
        'but parameter "coupon" is annotated str, which cannot accept it'
    ) in result.out


def test_an_unknown_id_suggests_the_close_one() -> None:
    line = decorator_line(APPS / "unknown_id.py", "track_signup")

    result = run_cli("check", "unknown_id:listeners", "--format", "github")

    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f"::error file=unknown_id.py,line={line},title=typed-events%3A unknown event id::"
        'unknown_id.track_signup, event "user_signd_up": no event class declares this id '
        '(did you mean "user_signed_up"?). Fix: fix the id, or define '
        "`class X(Event, event_id='user_signd_up')` and pass it in EventBus(events=[...])"
    )


def test_a_bus_that_fails_while_its_module_is_imported_gives_findings_not_a_traceback() -> None:
    line = decorator_line(APPS / "seed_bus.py", "send_goodbye")

    result = run_cli("check", "seed_bus:bus")

    assert result.code == 1
    assert result.err == ""
    assert result.out.splitlines()[0].startswith(
        f'seed_bus.py:{line}: error: seed_bus.send_goodbye, event "account_closed", field "reason"'
    )
    assert result.out.splitlines()[-1] == (
        "Failed: 1 error, 0 warnings (seed_bus:bus failed to build its bus)."
    )


def test_an_event_without_listener_is_a_warning() -> None:
    line = next(
        number
        for number, text in enumerate((APPS / "unhandled.py").read_text().splitlines(), 1)
        if text.startswith("class InvoiceVoided")
    )

    result = run_cli("check", "unhandled:bus")

    assert result.code == 0
    assert result.out.splitlines() == [
        f'unhandled.py:{line}: warning: event "invoice_voided": InvoiceVoided has no listener '
        "in this app",
        "    fix: subscribe one with @listener(...), or ignore this if another service consumes it",
        "OK: 0 errors, 1 warning (2 listeners and 3 events in unhandled:bus).",
    ]


def test_strict_makes_warnings_fail() -> None:
    result = run_cli("check", "unhandled:bus", "--strict", "--format", "github")
    assert result.code == 1
    assert result.out.startswith("::warning file=unhandled.py,line=")
    assert "title=typed-events%3A event without listener::" in result.out


def test_two_classes_with_one_id_are_an_error() -> None:
    result = run_cli("check", "duplicate_ids:listeners")
    assert result.code == 1
    assert result.out.startswith(
        'error: event id "shipment" is claimed by duplicate_ids.ShipmentSent and '
        "duplicate_ids.ShipmentArrived"
    )


def test_a_litestar_app_is_checked_through_its_listeners() -> None:
    line = decorator_line(APPS / "litestar_plain.py", "notify_reporter")

    result = run_cli("check", "litestar_plain:app")

    assert result.code == 1
    assert result.out.splitlines()[0] == (
        f'litestar_plain.py:{line}: error: litestar_plain.notify_reporter, event "ticket_closed", '
        'field "reason": TicketClosed sends this field, and the listener has no parameter '
        '"reason" and no **kwargs'
    )


def test_a_bus_refused_at_import_for_a_duplicate_id_is_a_finding() -> None:
    result = run_cli("check", "duplicate_bus:bus")
    assert (result.code, result.err) == (1, "")
    assert result.out.splitlines() == [
        'error: event id "parcel" is claimed by duplicate_bus.ParcelSent and '
        "duplicate_bus.ParcelLost; give one of them another id (class X(Event, event_id=...)), "
        "or pass the one you mean in EventBus(events=[...])",
        "Failed: 1 error, 0 warnings (duplicate_bus:bus failed to build its bus).",
    ]
