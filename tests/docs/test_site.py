"""The site as a whole: every page in the nav, the API reference complete, a strict build."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .pages import ROOT

# Modules whose public names (their __all__) the API reference must cover; a module
# that is not written yet is skipped until its file exists.
DOCUMENTED_MODULES = (
    "typed_events",
    "typed_events.testing",
    "typed_events.backends.redis",
    "typed_events.sqlalchemy",
    "typed_events.contrib.litestar",
    "typed_events.otel",
    "typed_events.pytest_plugin",
)


def nav_pages() -> list[str]:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config.split("\nnav:", 1)[1]
    return re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w/.-]+\.md)\s*$", nav, flags=re.MULTILINE)


def test_the_nav_lists_every_page_and_only_existing_pages() -> None:
    listed = nav_pages()
    on_disk = sorted(p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md"))
    assert sorted(set(listed)) == on_disk, (
        f"not in the nav: {sorted(set(on_disk) - set(listed))}; "
        f"in the nav but missing: {sorted(set(listed) - set(on_disk))}"
    )
    assert len(listed) == len(set(listed)), "a page is listed twice in the nav"


def documented_names() -> list[str]:
    names = []
    for module_name in DOCUMENTED_MODULES:
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        names += [f"{module_name}.{name}" for name in module.__all__]
    return names


def test_the_api_reference_covers_every_public_name() -> None:
    reference = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    covered = set(re.findall(r"^::: ([\w.]+)\s*$", reference, flags=re.MULTILINE))
    missing = [name for name in documented_names() if name not in covered]
    assert not missing, f"add `::: NAME` entries to docs/api.md for: {', '.join(missing)}"


def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    # The same command `make docs` runs; --strict turns every warning (a broken link, a
    # page missing from the nav, a docstring mkdocstrings cannot read) into a failure.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{result.stderr}{result.stdout}")
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "api" / "index.html").is_file()
