"""``typed-events check APP``: each kind of finding, in each format, with its exit code."""

from __future__ import annotations

import json
from pathlib import Path

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


MUTABLE = APPS / "mutable_fields.py"


def _line_of(path: Path, prefix: str) -> int:
    lines = path.read_text().splitlines()
    return next(number for number, text in enumerate(lines, 1) if text.startswith(prefix))


def test_mutable_fields_of_a_received_event_are_warnings_with_the_immutable_spelling() -> None:
    result = run_cli("check", "mutable_fields:bus")

    assert (result.code, result.err) == (0, "")
    lines = result.out.splitlines()
    mutable = [
        line
        for line in lines
        if "can change it under the other listeners" in line and '"order_placed"' in line
    ]
    shown = {line.split('field "')[1].split('"')[0]: line for line in mutable}
    assert sorted(shown) == [
        "address",
        "codes",
        "history",
        "items",
        "label.colors",
        "quantities",
    ]
    items = lines.index(shown["items"])
    assert lines[items] == (
        f"mutable_fields.py:{_line_of(MUTABLE, '    items:')}: warning: "
        'event "order_placed", field "items": list[str] is mutable: a listener can change it '
        "under the other listeners (the event is frozen, not what it holds)"
    )
    assert lines[items + 1] == "    fix: declare it `items: tuple[str, ...]`"
    fixes = {name: lines[lines.index(line) + 1] for name, line in shown.items()}
    assert fixes["quantities"] == (
        "    fix: declare it `quantities: Mapping[str, tuple[int, ...]]` "
        "(Mapping from collections.abc)"
    )
    assert fixes["codes"] == "    fix: declare it `codes: frozenset[str] | None`"
    assert fixes["history"] == "    fix: declare it `history: tuple[tuple[int, ...], ...]`"
    assert "Address is a model that is not frozen" in shown["address"]
    assert fixes["address"] == ("    fix: add `model_config = ConfigDict(frozen=True)` to Address")
    assert shown["label.colors"].startswith(
        f"mutable_fields.py:{_line_of(MUTABLE, '    colors:')}: warning: "
    )
    assert fixes["label.colors"] == "    fix: declare it `colors: tuple[str, ...]` in Label"
    # Unheard has no listener: its list is not reported, only the missing listener.
    assert not any('"unheard", field' in line for line in lines)
    assert lines[-1] == (
        "OK: 0 errors, 16 warnings (2 listeners and 5 events in mutable_fields:bus)."
    )


def test_mutable_parts_are_found_in_every_spelling() -> None:
    report = json.loads(run_cli("check", "mutable_fields:bus", "--format", "json").out)
    fixes = {
        w["field"]: (w["message"].split(":")[0], w["fix"])
        for w in report["warnings"]
        if w["event_id"] == "stock_counted"
    }
    assert fixes == {
        "counts": (
            "Counter[str] is mutable",
            "declare it `counts: Mapping[str, int]` (Mapping from collections.abc)",
        ),
        "crate": (
            "Crate is a dataclass that is not frozen",
            "declare Crate with @dataclass(frozen=True)",
        ),
        "parcel.sizes": ("list[int] is mutable", "declare it `sizes: tuple[int, ...]` in Parcel"),
        "tree.tags": ("list[str] is mutable", "declare it `tags: tuple[str, ...]` in Node"),
        "waiting": ("deque[int] is mutable", "declare it `waiting: tuple[int, ...]`"),
        "limited": ("list[int] is mutable", "declare it `limited: tuple[int, ...]`"),
        "batches": (
            "Sequence[set[int]] holds mutable containers",
            "declare it `batches: Sequence[frozenset[int]]`",
        ),
    }


def test_a_subclass_of_a_received_event_without_listener_is_a_warning() -> None:
    result = run_cli("check", "mutable_fields:bus")

    assert result.code == 0
    lines = result.out.splitlines()
    rush = lines.index(
        f"mutable_fields.py:{_line_of(MUTABLE, 'class RushOrderPlaced')}: warning: "
        'event "rush_order_placed": RushOrderPlaced subclasses OrderPlaced but has an id of its '
        'own: the listeners of "order_placed" (mutable_fields.ship) never receive it, and it '
        "has no listener"
    )
    assert lines[rush + 1] == (
        "    fix: subscribe a listener to it, e.g. @listener(OrderPlaced, RushOrderPlaced), "
        "or emit OrderPlaced itself"
    )
    gift = [line for line in lines if 'event "gift_order_placed"' in line]
    assert len(gift) == 1  # the subclass warning, not also "has no listener in this app"
    assert "GiftOrderPlaced subclasses OrderPlaced" in gift[0]


def test_strict_fails_on_mutable_fields_and_github_json_show_them() -> None:
    strict = run_cli("check", "mutable_fields:bus", "--strict", "--format", "github")
    assert strict.code == 1
    items = _line_of(MUTABLE, "    items:")
    assert (
        f"::warning file=mutable_fields.py,line={items},title=typed-events%3A mutable field::"
        'event "order_placed", field "items": list[str] is mutable'
    ) in strict.out
    assert "title=typed-events%3A subclass without listener::" in strict.out

    report = json.loads(run_cli("check", "mutable_fields:bus", "--format", "json").out)
    assert (report["ok"], report["errors"]) == (True, [])
    by_field = {w["field"]: w for w in report["warnings"] if w["title"] == "mutable field"}
    assert by_field["items"]["fix"] == "declare it `items: tuple[str, ...]`"
    assert (by_field["items"]["event_id"], by_field["items"]["line"]) == ("order_placed", items)
    subclass = [w for w in report["warnings"] if w["title"] == "subclass without listener"]
    assert sorted(w["event_id"] for w in subclass) == ["gift_order_placed", "rush_order_placed"]


def test_a_misspelled_event_parameter_is_one_annotation_on_its_listener() -> None:
    path = APPS / "event_spellings.py"

    result = run_cli("check", "event_spellings:listeners", "--format", "github")

    assert result.code == 1
    assert result.out.splitlines() == [
        f"::error file=event_spellings.py,line={decorator_line(path, 'notify_buyer')},"
        "title=typed-events%3A listener signature::event_spellings.notify_buyer, "
        'event "parcel_shipped": parameter "event" is keyword-only, but the event is passed '
        'as the first positional argument. Fix: remove the "*" before "event"',
        f"::error file=event_spellings.py,line={decorator_line(path, 'track')},"
        "title=typed-events%3A listener signature::event_spellings.track, "
        'event "parcel_shipped": parameter "event" is annotated ParcelShipped | None, but an '
        "event is never None, so the listener is not recognized as taking the event. "
        "Fix: annotate it `event: ParcelShipped`",
        "Failed: 2 errors, 0 warnings (2 listeners and 1 event in event_spellings:listeners).",
    ]
