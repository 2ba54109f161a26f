"""Extension subcommands (stubgen, dead-letter) plug into ``typed-events`` by module name."""

from __future__ import annotations

import pytest

from typed_events import cli


def test_an_extension_adds_a_subcommand_with_its_own_handler(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "EXTENSION_MODULES", ("tests.cli.fake_extension",))

    assert cli.main(["hello", "--name", "events"]) == 3
    assert capsys.readouterr().out == "hello events\n"


def test_an_extensions_user_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "EXTENSION_MODULES", ("tests.cli.fake_extension",))

    assert cli.main(["hello", "--fail"]) == 2
    assert capsys.readouterr().err == "typed-events: error: cannot greet 'world'\n"


def test_a_missing_extension_module_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        cli, "EXTENSION_MODULES", ("tests.cli.no_such_extension", "tests.cli.fake_extension")
    )
    parser = cli.build_parser()
    assert parser.parse_args(["hello"]).name == "world"


def test_an_extension_missing_its_own_dependency_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "EXTENSION_MODULES", ("tests.cli.broken_extension",))
    with pytest.raises(ModuleNotFoundError, match="not_installed_dependency_of_extension"):
        cli.build_parser()


def test_the_shipped_extension_modules_are_the_agreed_ones() -> None:
    assert cli.EXTENSION_MODULES == ("typed_events.stubgen", "typed_events.backends.redis_cli")
