"""Where the plugin cannot know an id it stays silent; a typo in its config is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from .checkers import Diagnostic, mypy_config, run_mypy

pytestmark = pytest.mark.typecheck

ROUTES = """import {module}

from typed_events import EventBus


def handle(bus: EventBus) -> None:
    print({module})
    bus.emit("{event_id}", x=1)
    bus.emit("user_created", email=1)
"""
KNOWN = """from typed_events import Event


class UserCreated(Event, event_id="user_created"):
    email: str
"""
CASES = {
    "create_model": (
        "from pydantic import create_model\n\nfrom typed_events import Event\n\n"
        'Pinged = create_model("Pinged", __base__=Event, x=(int, ...))\n',
        "pinged",
        "",
    ),
    "keywords_unpacked": (
        "from typed_events import Event\n\nOPTIONS = {'event_id': 'kw_event'}\n\n\n"
        "class Kw(Event, **OPTIONS):\n    x: int\n",
        "kw_event",
        "",
    ),
    "follow_imports_skip": (
        'from typed_events import Event\n\n\nclass Skipped(Event, event_id="skipped"):\n'
        "    x: int\n",
        "skipped",
        "\n[mypy-dynamic]\nfollow_imports = skip\n",
    ),
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for these small projects: the standard library is analysed once.

    (mypy re-checks a module whose source or options changed, so sharing is safe.)
    """
    return tmp_path_factory.mktemp("mypy-cache")


WRONG_EMAIL = 'Argument "email" to "UserCreated" has incompatible type "int"; expected "str"'


@pytest.mark.parametrize("case", list(CASES))
def test_an_id_the_plugin_cannot_see_is_not_reported(
    tmp_path: Path, cache: Path, case: str
) -> None:
    source, event_id, extra = CASES[case]
    (tmp_path / "dynamic.py").write_text(source)
    (tmp_path / "known.py").write_text(KNOWN)
    (tmp_path / "routes.py").write_text(
        "import known\n" + ROUTES.format(module="dynamic", event_id=event_id)
    )
    config = mypy_config("pydantic.mypy", "typed_events.mypy", events_modules="known") + extra
    found = run_mypy(tmp_path, config, ["routes.py", "known.py"], cache_dir=cache)
    # The id from the dynamic module (line 9): silent. The known one: still checked.
    assert [(d.file, d.line, d.message) for d in found] == [
        ("routes.py", 10, f"{WRONG_EMAIL}  [arg-type]")
    ]


def test_a_class_the_plugin_can_see_still_makes_a_typo_unknown(tmp_path: Path, cache: Path) -> None:
    (tmp_path / "known.py").write_text(KNOWN)
    (tmp_path / "routes.py").write_text(ROUTES.format(module="known", event_id="user_creatd"))
    config = mypy_config("pydantic.mypy", "typed_events.mypy")
    found = run_mypy(tmp_path, config, ["routes.py"], cache_dir=cache)
    assert found == [
        Diagnostic(
            "routes.py",
            8,
            'Unknown event id "user_creatd"; did you mean "user_created"?  [event-id]',
        ),
        Diagnostic("routes.py", 9, f"{WRONG_EMAIL}  [arg-type]"),
    ]


def test_a_typo_in_events_modules_is_reported_at_each_emitting_module(
    tmp_path: Path, cache: Path
) -> None:
    (tmp_path / "known.py").write_text(KNOWN)
    (tmp_path / "routes.py").write_text(ROUTES.format(module="known", event_id="user_created"))
    config = mypy_config("pydantic.mypy", "typed_events.mypy", events_modules="known, knwon")
    # With ignore_missing_imports, mypy itself says nothing of the missing module.
    config = config.replace("[mypy]\n", "[mypy]\nignore_missing_imports = True\n", 1)
    found = run_mypy(tmp_path, config, ["routes.py"], cache_dir=cache)
    assert sorted(found, key=lambda d: (d.line, d.message)) == [
        Diagnostic("routes.py", 8, 'Unexpected keyword argument "x" for "UserCreated"  [call-arg]'),
        Diagnostic(
            "routes.py",
            8,
            'events_modules in [typed-events] lists "knwon", which mypy did not find (or does '
            "not follow): the ids it defines cannot be checked. Fix the module name in the "
            "mypy config  [event-id]",
        ),
        Diagnostic("routes.py", 9, f"{WRONG_EMAIL}  [arg-type]"),
    ]
