"""Items 1, 2 and 4: real mypy (three configs, plugin in either order, parallel) and pyright."""

from __future__ import annotations

from pathlib import Path

import pytest

from .checkers import expected, mismatches, mypy_config, run_mypy, run_pyright

pytestmark = pytest.mark.typecheck

FILES = [
    "events_app.py",
    "emit_forms.py",
    "emit_ids.py",
    "routes_no_import.py",
    "listener_mismatch.py",
    "upcasters.py",
    "corpus_valid.py",
    "emit_more.py",
]

CONFIGS = {
    "mypy": mypy_config(),
    "pydantic": mypy_config("pydantic.mypy"),
    "plugin": mypy_config("pydantic.mypy", "typed_events.mypy", events_modules="events_app"),
    "plugin-first": mypy_config("typed_events.mypy", "pydantic.mypy", events_modules="events_app"),
}


def test_the_valid_corpus_has_zero_errors_with_our_plugin_alone(snippet_project: Path) -> None:
    # Without pydantic's plugin mypy reads pydantic's dataclass_transform: the fields
    # the listener check compares against come from there.
    files = ["events_app.py", "corpus_valid.py"]
    config = mypy_config("typed_events.mypy", events_modules="events_app")
    found = run_mypy(snippet_project, config, files, cache_dir=snippet_project / ".cache-alone")
    assert found == []


@pytest.mark.parametrize("name", list(CONFIGS))
def test_mypy_reports_exactly_the_marked_errors(snippet_project: Path, name: str) -> None:
    found = run_mypy(
        snippet_project, CONFIGS[name], FILES, cache_dir=snippet_project / f".cache-{name}"
    )
    tag = "plugin" if name.startswith("plugin") else name
    assert mismatches(found, expected(snippet_project, FILES, tag)) == []


def test_parallel_mypy_reports_the_same(snippet_project: Path) -> None:
    found = run_mypy(
        snippet_project,
        CONFIGS["plugin"],
        FILES,
        cache_dir=snippet_project / ".cache-parallel",
        workers=2,
    )
    assert mismatches(found, expected(snippet_project, FILES, "plugin")) == []


def test_pyright_reports_exactly_the_marked_errors(snippet_project: Path) -> None:
    found = run_pyright(snippet_project, FILES)
    assert mismatches(found, expected(snippet_project, FILES, "pyright")) == []


def test_without_events_modules_an_unimported_id_is_unknown_in_any_order(
    snippet_project: Path,
) -> None:
    # Deterministic: the module does not import events_app, so its ids are not visible,
    # whichever order mypy happens to process the modules in.
    config = mypy_config("pydantic.mypy", "typed_events.mypy")
    for index, files in enumerate(
        (["routes_no_import.py", "events_app.py"], ["events_app.py", "routes_no_import.py"])
    ):
        found = run_mypy(
            snippet_project, config, files, cache_dir=snippet_project / f".cache-order{index}"
        )
        assert [(d.line, d.message) for d in found] == [
            (10, 'Unknown event id "user_created"  [event-id]'),
            (11, 'Unknown event id "order_placed"  [event-id]'),
        ]
