"""``typed-events schema lock`` and ``schema check`` in a subprocess, on a temp package.

Each test writes ``shop/events.py`` as a deploy would leave it, then runs the real
command against it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import Run

HEADER = """\
from typing import Any

from typed_events import Event, EventBus, listener, upcaster

"""

V1 = """
class UserSignedUp(Event, event_id="user_signed_up"):
    name: str
    age: int
    note: str | None = None

bus = EventBus(events=[UserSignedUp])
"""

V2 = """
class UserSignedUp(Event, event_id="user_signed_up", version=2):
    full_name: str
    age: int
    note: str | None = None

@upcaster(UserSignedUp, from_version=1)
def name_to_full_name(data: dict[str, Any]) -> dict[str, Any]:
    return {"full_name": data.pop("name"), **data}

bus = EventBus(events=[UserSignedUp])
"""

V3_KEYWORDS = "{keywords}"
V3 = """
class UserSignedUp(Event, event_id="user_signed_up", version=3{keywords}):
    full_name: str
    age_months: int
    note: str | None = None
{from_1}
@upcaster(UserSignedUp, from_version=2)
def age_in_months(data: dict[str, Any]) -> dict[str, Any]:
    return {{**data, "age_months": data.pop("age") * 12}}

bus = EventBus(events=[UserSignedUp])
"""

FROM_1 = """
@upcaster(UserSignedUp, from_version=1)
def name_to_full_name(data: dict[str, Any]) -> dict[str, Any]:
    return {"full_name": data.pop("name"), **data}
"""


def v3(*, min_version: int = 1) -> str:
    keywords = f", min_version={min_version}" if min_version > 1 else ""
    return V3.format(keywords=keywords, from_1=FROM_1 if min_version == 1 else "")


def deploy(root: Path, body: str) -> None:
    """Leave ``shop/events.py`` as this deploy has it."""
    (root / "shop").mkdir(exist_ok=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "events.py").write_text(HEADER + textwrap.dedent(body))


def cli(root: Path, *args: str) -> Run:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "typed_events", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def lock(root: Path) -> Run:
    result = cli(root, "schema", "lock", "shop.events:bus", "-o", "events.lock.json")
    assert (result.code, result.err) == (0, ""), result
    return result


def check(root: Path, mode: str, *options: str) -> Run:
    return cli(
        root, "schema", "check", "shop.events:bus", "--lock", "events.lock.json",
        "--mode", mode, *options,
    )  # fmt: skip


def test_lock_records_every_version_the_class_still_reads(tmp_path: Path) -> None:
    deploy(tmp_path, V1)
    assert lock(tmp_path).out == "locked 1 event(s) in events.lock.json: user_signed_up v1\n"
    document = json.loads((tmp_path / "events.lock.json").read_text())
    assert document["format"] == "typed-events/lock/v1"
    entry = document["events"]["user_signed_up"]
    assert (entry["class"], entry["version"], entry["min_version"]) == (
        "shop.events.UserSignedUp", 1, 1,
    )  # fmt: skip
    schema = entry["schemas"]["1"]
    assert schema["additionalProperties"] is False
    assert schema["x-typed-events-version"] == 1
    assert schema["required"] == ["name", "age"]

    deploy(tmp_path, V2)
    assert lock(tmp_path).out.endswith("user_signed_up v1/2\n")
    schemas = json.loads((tmp_path / "events.lock.json").read_text())["events"]["user_signed_up"]
    assert schemas["schemas"]["1"] == schema  # kept from the file, not regenerated
    assert "full_name" in schemas["schemas"]["2"]["properties"]

    deploy(tmp_path, v3(min_version=2))
    assert lock(tmp_path).out.endswith("user_signed_up v2/3\n")  # version 1 retired


def test_no_change_passes_every_mode(tmp_path: Path) -> None:
    deploy(tmp_path, V1)
    lock(tmp_path)
    for mode in ("backward", "forward-transitive", "full"):
        result = check(tmp_path, mode)
        assert result.code == 0, result
        assert result.out == (
            f"OK: no breaking change under {mode} (1 event(s) checked against events.lock.json).\n"
        )


def test_a_rename_without_a_bump_fails_naming_the_field_and_the_fix(tmp_path: Path) -> None:
    deploy(tmp_path, V1)
    lock(tmp_path)
    deploy(tmp_path, V1.replace("name: str", "full_name: str"))
    result = check(tmp_path, "backward")
    assert result.code == 1, result
    bump = (
        "bump to version 2 (class UserSignedUp(Event, version=2)) and add an upcaster "
        "from 1 (@upcaster(UserSignedUp, from_version=1))"
    )
    assert result.out.splitlines() == [
        'breaking: user_signed_up version 1 (backward): field "name" removed: this code '
        "refuses events written under the lock (extra fields are forbidden)",
        f"    fix: {bump}",
        'breaking: user_signed_up version 1 (backward): new required field "full_name": '
        "this code refuses events written under the lock",
        f"    fix: give the new field a default, or {bump}",
        "Failed: 2 breaking changes under backward (1 event(s) checked against events.lock.json).",
    ]


def test_lock_refuses_to_overwrite_a_locked_version_with_a_breaking_change(
    tmp_path: Path,
) -> None:
    deploy(tmp_path, V1)
    lock(tmp_path)
    before = (tmp_path / "events.lock.json").read_text()
    deploy(tmp_path, V1.replace("age: int", "age: str"))
    refused = cli(tmp_path, "schema", "lock", "shop.events:bus", "-o", "events.lock.json")
    assert refused.code == 1, refused
    assert refused.out.splitlines()[0].startswith(
        'breaking: user_signed_up version 1 (backward): field "age" changed type'
    )
    assert refused.out.splitlines()[-1].startswith("Refused: events.lock.json is unchanged.")
    assert (tmp_path / "events.lock.json").read_text() == before
    assert check(tmp_path, "backward").code == 1  # the gate still fails
    forward = ("schema", "lock", "shop.events:bus", "-o", "events.lock.json", "--mode", "forward")
    assert cli(tmp_path, *forward).code == 1  # int -> str breaks both ways
    forced = cli(tmp_path, *forward, "--force")
    assert forced.code == 0, forced
    assert check(tmp_path, "full").code == 0


def test_lock_records_a_compatible_change_to_a_locked_version(tmp_path: Path) -> None:
    deploy(tmp_path, V1)
    lock(tmp_path)
    deploy(tmp_path, V1.replace("age: int", "age: float"))
    lock(tmp_path)  # widening is backward compatible
    result = check(tmp_path, "backward")
    assert result.out.startswith("OK: no breaking change under backward"), result


# (what the deploy changes, exit code under backward, forward, full, what forward says)
CHANGES = [
    ("note: str | None = None", "note: str | None = None\n    nick: str = ''", 0, 1, 1),
    ("    note: str | None = None\n", "", 1, 0, 1),
    ("age: int", "age: float", 0, 1, 1),
    ("note: str | None = None", "note: str = ''", 1, 0, 1),
    ("note: str | None = None", "note: str | None = None\n    nick: str", 1, 1, 1),
]


@pytest.mark.parametrize(("old", "new", "backward", "forward", "full"), CHANGES)
def test_each_mode_judges_a_change_by_the_closed_content_model(
    tmp_path: Path, old: str, new: str, backward: int, forward: int, full: int
) -> None:
    deploy(tmp_path, V1)
    lock(tmp_path)
    deploy(tmp_path, V1.replace(old, new))
    results = {mode: check(tmp_path, mode) for mode in ("backward", "forward", "full")}
    assert {m: r.code for m, r in results.items()} == {
        "backward": backward, "forward": forward, "full": full,
    }, results  # fmt: skip
    for mode, result in results.items():
        if result.code:
            assert "(1 event(s) checked against events.lock.json)" in result.out
            assert "fix: " in result.out
            if mode != "full":
                assert f"({mode}): " in result.out
    if forward:
        assert "consumers on the lock refuse events this code writes" in results["forward"].out


def test_a_bump_with_an_upcaster_passes_every_mode_and_says_who_deploys_first(
    tmp_path: Path,
) -> None:
    deploy(tmp_path, V1)
    lock(tmp_path)
    deploy(tmp_path, V2)
    backward = check(tmp_path, "backward")
    assert backward.code == 0, backward
    assert backward.out.splitlines()[0] == (
        "note: user_signed_up version 2: version 1 -> 2: older events are upcast"
    )
    forward = check(tmp_path, "full")
    assert forward.code == 0, forward
    assert "consumers still at version 1 dead-letter version 2 events" in forward.out
    assert "deploy consumers before producers" in forward.out


def test_transitive_modes_hold_every_locked_version_across_three_versions(
    tmp_path: Path,
) -> None:
    for body in (V1, V2, v3()):
        deploy(tmp_path, body)
        lock(tmp_path)
    assert json.loads((tmp_path / "events.lock.json").read_text())["events"]["user_signed_up"][
        "schemas"
    ].keys() == {"1", "2", "3"}
    # The third deploy retires version 1: min_version=2, the upcaster from 1 deleted.
    deploy(tmp_path, v3(min_version=2))
    codes = {m: check(tmp_path, m).code for m in ("backward", "forward-transitive")}
    assert codes == {"backward": 0, "forward-transitive": 0}
    for mode in ("backward-transitive", "full-transitive"):
        result = check(tmp_path, mode)
        assert result.code == 1, result
        assert result.out.splitlines()[:2] == [
            "breaking: user_signed_up version 1: version 1 is in the lock, but UserSignedUp "
            "reads from version 2 (min_version=2): version-1 events still in a stream would "
            "be dead-lettered",
            "    fix: keep the upcaster from version 1 (min_version=1) until no version-1 "
            "event is left; then run `typed-events schema lock` to retire version 1",
        ]
    # Once no version-1 event is left, the team retires it from the lock: the gate passes.
    lock(tmp_path)
    assert check(tmp_path, "backward-transitive").code == 0


def test_a_change_to_the_latest_of_three_versions_fails_plain_and_transitive_modes(
    tmp_path: Path,
) -> None:
    for body in (V1, V2, v3()):
        deploy(tmp_path, body)
        lock(tmp_path)
    deploy(tmp_path, v3().replace("age_months: int", "age_months: str"))
    for mode in ("backward", "backward-transitive"):
        result = check(tmp_path, mode)
        assert result.code == 1, result
        assert (
            'field "age_months" changed type: integer -> string: this code refuses events '
            "written under the lock"
        ) in result.out
        assert "bump to version 4" in result.out


def test_github_format_annotates_the_event_class(tmp_path: Path) -> None:
    deploy(tmp_path, V1)
    lock(tmp_path)
    deploy(tmp_path, V1.replace("age: int", "age: str"))
    result = check(tmp_path, "backward", "--format", "github")
    assert result.code == 1, result
    line = (HEADER + V1).splitlines().index('class UserSignedUp(Event, event_id="user_signed_up"):')
    first = result.out.splitlines()[0]
    assert first.startswith(
        f"::error file=shop/events.py,line={line + 1},"
        "title=typed-events%3A breaking schema change::user_signed_up version 1 (backward): "
        'field "age" changed type: integer -> string'
    ), first
    assert ". Fix: bump to version 2" in first


def test_json_format(tmp_path: Path) -> None:
    deploy(tmp_path, V1)
    lock(tmp_path)
    deploy(tmp_path, V1.replace("    note: str | None = None\n", ""))
    result = check(tmp_path, "forward", "--format", "json")
    assert result.code == 0, result
    document = json.loads(result.out)
    assert (document["ok"], document["mode"]) == (True, "forward")
    [note] = document["findings"]
    assert note["breaking"] is False
    assert note["message"] == "version 1 changed compatibly since the lock"
    assert note["fix"] == "run `typed-events schema lock` and commit the lock file"
    assert note["location"].startswith("shop/events.py:")


def test_an_event_removed_breaks_backward(tmp_path: Path) -> None:
    two = "class Gone(Event, event_id='gone'):\n    x: int\n\n"
    two += "bus = EventBus(events=[UserSignedUp, Gone])"
    deploy(tmp_path, V1.replace("bus = EventBus(events=[UserSignedUp])", two))
    lock(tmp_path)
    deploy(tmp_path, V1)
    result = check(tmp_path, "backward")
    assert result.code == 1, result
    assert result.out.startswith("breaking: gone: event removed, but it is in the lock")
    assert check(tmp_path, "forward").code == 0


def test_an_event_not_locked_yet_is_a_note(tmp_path: Path) -> None:
    deploy(tmp_path, V1)
    (tmp_path / "events.lock.json").write_text('{"format": "typed-events/lock/v1", "events": {}}')
    result = check(tmp_path, "full")
    assert result.code == 0, result
    assert result.out.startswith("note: user_signed_up version 1: version 1 is not in the lock")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    deploy(tmp_path, V1)
    missing = check(tmp_path, "backward")
    assert missing.code == 2, missing
    assert "no lock file events.lock.json; write it with `typed-events schema lock" in missing.err
    lock(tmp_path)
    unknown = check(tmp_path, "sideways")
    assert unknown.code == 2, unknown
    assert "invalid choice: 'sideways'" in unknown.err
    (tmp_path / "events.lock.json").write_text('{"format": "typed-events/schemas/v1"}')
    wrong = check(tmp_path, "backward")
    assert wrong.code == 2, wrong
    assert "is not a schema lock" in wrong.err
    assert "Traceback" not in wrong.err
    relock = cli(tmp_path, "schema", "lock", "shop.events:bus", "-o", "events.lock.json")
    assert relock.code == 2, relock
    assert "is not a schema lock" in relock.err
    (tmp_path / "events.lock.json").write_text("{")
    broken = check(tmp_path, "backward")
    assert broken.code == 2, broken
    assert "events.lock.json is not JSON" in broken.err


def test_a_broken_upcaster_chain_fails_check_and_the_gate(tmp_path: Path) -> None:
    deploy(tmp_path, V1)
    lock(tmp_path)
    deploy(tmp_path, V2.replace("from_version=1", "from_version=2"))
    gate = check(tmp_path, "backward")
    assert gate.code == 1, gate
    assert 'event "user_signed_up": version 1: UserSignedUp is at version 2' in gate.err
    wiring = cli(tmp_path, "check", "shop.events:bus", "--format", "github")
    assert wiring.code == 1, wiring
    assert "title=typed-events%3A upcaster chain" in wiring.out
