"""Loading APP: every user mistake is one line saying what was expected (exit code 2)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import APPS, run_cli


def test_a_malformed_app_string() -> None:
    result = run_cli("check", "clean_app.bus")
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "typed-events: error: APP must be module:attribute (for example myapp.events:bus), "
        "got 'clean_app.bus'\n"
    )


def test_a_missing_module_says_where_it_looked() -> None:
    result = run_cli("check", "no_such_app:bus")
    assert result.code == 2
    assert result.err == (
        "typed-events: error: cannot import 'no_such_app' for APP 'no_such_app:bus': "
        f"no module named 'no_such_app' (searched {APPS} and sys.path; run from your "
        "project's root or pass --app-dir DIR)\n"
    )


def test_a_missing_attribute_suggests_what_the_module_has() -> None:
    result = run_cli("check", "wrong_objects:app")
    assert result.code == 2
    assert result.err == (
        "typed-events: error: APP 'wrong_objects:app': module 'wrong_objects' has no attribute "
        "'app'; it defines good. Expected an EventBus, a list of @listener functions, "
        "or a Litestar app\n"
    )


def test_an_attribute_of_the_wrong_type() -> None:
    result = run_cli("check", "wrong_objects:settings")
    assert result.code == 2
    assert result.err == (
        "typed-events: error: APP 'wrong_objects:settings' is {'debug': True} (dict); "
        "expected an EventBus, a list of @listener functions, or a Litestar app\n"
    )


def test_a_list_with_an_undecorated_function() -> None:
    result = run_cli("check", "wrong_objects:mixed")
    assert result.code == 2
    assert result.err == (
        "typed-events: error: APP 'wrong_objects:mixed': item 1 of the sequence, "
        "wrong_objects.not_decorated, is not a listener; decorate it with @listener(SomeEvent)\n"
    )


def test_app_dir_adds_a_directory_to_the_import_path(tmp_path: Path) -> None:
    result = run_cli("check", "--app-dir", str(APPS), "clean_app:bus", cwd=tmp_path)
    assert result.code == 0, result
    missing = run_cli("check", "--app-dir", str(tmp_path / "nope"), "clean_app:bus")
    assert missing.code == 2
    assert missing.err.startswith("typed-events: error: --app-dir ")
    assert "is not a directory" in missing.err


def _write(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def test_an_exception_while_importing_shows_only_the_users_frames(tmp_path: Path) -> None:
    _write(tmp_path, "settings_app/__init__.py", "")
    _write(
        tmp_path,
        "settings_app/config.py",
        """\
        def load() -> dict[str, str]:
            return {"a": "1"}["database_url"]

        SETTINGS = load()
        """,
    )
    _write(tmp_path, "main_app.py", "import settings_app.config\n")

    result = run_cli("check", "main_app:bus", cwd=tmp_path)

    assert (result.code, result.out) == (2, "")
    config = tmp_path / "settings_app" / "config.py"
    # Caret lines differ between Python versions; the frames are the point.
    lines = [line for line in result.err.splitlines() if line.strip(" ^~")]
    assert lines == [
        "typed-events: error: importing 'main_app' raised KeyError: 'database_url'",
        "Traceback (most recent call last):",
        f'  File "{tmp_path / "main_app.py"}", line 1, in <module>',
        "    import settings_app.config",
        f'  File "{config}", line 4, in <module>',
        "    SETTINGS = load()",
        f'  File "{config}", line 2, in load',
        '    return {"a": "1"}["database_url"]',
        "KeyError: 'database_url'",
    ]


def test_a_missing_dependency_of_the_app_is_an_import_error_not_a_missing_app(
    tmp_path: Path,
) -> None:
    _write(tmp_path, "needs_dep.py", "import not_installed_dependency_xyz\n")

    result = run_cli("check", "needs_dep:bus", cwd=tmp_path)

    assert result.code == 2
    lines = result.err.splitlines()
    assert lines[0] == (
        "typed-events: error: importing 'needs_dep' raised ModuleNotFoundError: "
        "No module named 'not_installed_dependency_xyz'"
    )
    assert "importlib" not in result.err
    assert "typed_events" not in result.err


def test_a_syntax_error_in_the_users_module(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "typo_app.py", "from typed_events import listener\n\ndef f(:\n    pass\n"
    )

    result = run_cli("check", "typo_app:bus", cwd=tmp_path)

    assert (result.code, result.out) == (2, "")
    lines = result.err.splitlines()
    assert lines[0] == (
        "typed-events: error: importing 'typo_app' raised SyntaxError: invalid syntax "
        "(typo_app.py, line 3)"
    )
    assert lines[1] == f'  File "{path}", line 3'
    assert lines[2:] == ["    def f(:", "          ^", "SyntaxError: invalid syntax"]


def test_the_console_script_and_python_m_agree() -> None:
    script = Path(sys.executable).with_name("typed-events")
    by_script = run_cli("check", "clean_app:bus", executable=[str(script)])
    by_module = run_cli("check", "clean_app:bus")
    assert by_script == by_module
    assert by_script.code == 0


def test_usage_errors_exit_2() -> None:
    no_command = run_cli()
    assert no_command.code == 2
    assert "usage: typed-events" in no_command.err
    bad_format = run_cli("check", "clean_app:bus", "--format", "xml")
    assert bad_format.code == 2
    assert "invalid choice: 'xml'" in bad_format.err


def test_a_class_is_named_as_a_class() -> None:
    result = run_cli("check", "wrong_objects:Ping")
    assert result.code == 2
    assert result.err == (
        "typed-events: error: APP 'wrong_objects:Ping' is the class wrong_objects.Ping; "
        "expected an EventBus, a list of @listener functions, or a Litestar app\n"
    )


def test_a_reader_closing_the_pipe_early_is_not_a_traceback() -> None:
    # `true` exits without reading, long before the command has imported the app and
    # writes: the write meets a closed pipe, as with `typed-events schema APP | head`.
    done = subprocess.run(
        f"{sys.executable} -m typed_events schema clean_app:bus | true",
        shell=True,
        cwd=APPS,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
