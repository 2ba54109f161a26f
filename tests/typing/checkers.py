"""Run real mypy and pyright on snippet files and compare, line by line, with their markers.

A snippet line that should get an error carries a trailing marker per expected message:
``# E[mypy,pyright]: fragment of the message``. The tags name the checker runs:

- ``mypy``: mypy --strict, no plugin;
- ``pydantic``: with ``pydantic.mypy`` (``init_typed``, ``init_forbid_extra``);
- ``plugin``: with ``pydantic.mypy`` and ``typed_events.mypy``;
- ``pyright``: pyright in strict mode;
- ``stubs-mypy`` / ``stubs-pyright``: with the stubs ``typed-events stubgen`` wrote.

``# E: fragment`` (no tags) applies to every run. Every reported error must match a
marker on its line and every marker must be matched, so a checker that reports nothing
fails as surely as one that reports too much.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mypy.api

SNIPPETS = Path(__file__).resolve().parents[1] / "typing_snippets"
ALL_TAGS = ("mypy", "pydantic", "plugin", "pyright")
_MARKER = re.compile(r"#\s*E(?:\[(?P<tags>[\w\-, ]+)\])?:\s*(?P<fragment>.*?)\s*(?=#\s*E[\[:]|$)")
_MYPY_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): error: (?P<message>.*)$")
_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Diagnostic:
    """One error a checker reported."""

    file: str
    line: int
    message: str


def mypy_config(*plugins: str, events_modules: str = "") -> str:
    """An ini config: strict, with ``plugins``, pydantic's plugin configured as documented."""
    text = "[mypy]\nstrict = True\nwarn_unreachable = True\n"
    if plugins:
        text += f"plugins = {', '.join(plugins)}\n"
    if "pydantic.mypy" in plugins:
        text += "\n[pydantic-mypy]\ninit_typed = True\ninit_forbid_extra = True\n"
    if events_modules:
        text += f"\n[typed-events]\nevents_modules = {events_modules}\n"
    return text


def run_mypy(
    project: Path,
    config: str,
    files: list[str],
    *,
    cache_dir: Path,
    workers: int = 0,
) -> list[Diagnostic]:
    """Run mypy in ``project`` and return its errors (notes are left out)."""
    config_path = project / f"mypy-{abs(hash(config))}.ini"
    config_path.write_text(config)
    arguments = [
        "--config-file",
        str(config_path),
        "--cache-dir",
        str(cache_dir),
        "--no-error-summary",
        "--no-pretty",
        "--no-color-output",
        "--show-error-codes",
        *(["--num-workers", str(workers)] if workers else []),
        *files,
    ]
    stdout, stderr, status = _mypy(project, arguments)
    if status not in (0, 1) or stderr.strip():
        raise AssertionError(f"mypy failed to run ({status}):\n{stderr}")
    found: list[Diagnostic] = []
    for line in stdout.splitlines():
        match = _MYPY_LINE.match(line)
        if match:
            found.append(Diagnostic(match["file"], int(match["line"]), match["message"]))
        elif ": note: " not in line and line.strip():
            raise AssertionError(f"unexpected mypy output line: {line!r}")
    return found


def _mypy(project: Path, arguments: list[str]) -> tuple[str, str, int]:
    # In this process, so that coverage sees the plugin run (a mypy subprocess ends with
    # os._exit, before coverage could save its data). mypy reads paths relative to the
    # working directory, hence the chdir; the tests do not run in threads.
    previous = Path.cwd()
    os.chdir(project)
    try:
        return mypy.api.run(arguments)
    finally:
        os.chdir(previous)


def run_pyright(
    project: Path, files: list[str], *, stub_path: str | None = None
) -> list[Diagnostic]:
    """Run pyright (strict) on ``files`` in ``project`` and return its errors."""
    config: dict[str, object] = {"typeCheckingMode": "strict", "pythonVersion": "3.11"}
    if stub_path is not None:
        config["stubPath"] = stub_path
    (project / "pyrightconfig.json").write_text(json.dumps(config))
    command = [str(_BIN / "pyright"), "--outputjson", "--pythonpath", sys.executable, *files]
    # The pip package bundles pyright and runs it with the nodejs wheel: no download, so
    # this works offline; skip its "newer version on PyPI" check too.
    environment = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}
    completed = subprocess.run(
        command,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=environment,
    )
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        output = f"{completed.stdout}\n{completed.stderr}"
        raise AssertionError(f"pyright failed to run ({completed.returncode}):\n{output}") from None
    return [
        Diagnostic(
            str(Path(item["file"]).relative_to(project.resolve())),
            int(item["range"]["start"]["line"]) + 1,
            str(item["message"]).splitlines()[0],
        )
        for item in report["generalDiagnostics"]
        if item["severity"] == "error"
    ]


def expected(project: Path, files: list[str], tag: str) -> dict[tuple[str, int], list[str]]:
    """The markers for ``tag`` in ``files``: (file, line) -> message fragments."""
    markers: dict[tuple[str, int], list[str]] = {}
    for name in files:
        for number, text in enumerate((project / name).read_text().splitlines(), start=1):
            for match in _MARKER.finditer(text):
                tags = match["tags"]
                applies = tags is None or tag in {t.strip() for t in tags.split(",")}
                if applies:
                    markers.setdefault((name, number), []).append(match["fragment"])
    return markers


def mismatches(
    diagnostics: list[Diagnostic], markers: dict[tuple[str, int], list[str]]
) -> list[str]:
    """Reported errors no marker expects, and markers no error matched (empty: all agree)."""
    problems: list[str] = []
    matched: set[tuple[str, int, str]] = set()
    for diagnostic in diagnostics:
        fragments = markers.get((diagnostic.file, diagnostic.line), [])
        hits = [f for f in fragments if f in diagnostic.message]
        if not hits:
            where = f"{diagnostic.file}:{diagnostic.line}"
            problems.append(f"unexpected: {where}: {diagnostic.message}")
        matched.update((diagnostic.file, diagnostic.line, f) for f in hits)
    for (file, line), fragments in sorted(markers.items()):
        for fragment in fragments:
            if (file, line, fragment) not in matched:
                problems.append(f"missing:    {file}:{line}: {fragment}")
    return problems
