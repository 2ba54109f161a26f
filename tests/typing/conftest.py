"""Fixtures for the type-checker tests: a private copy of the snippets per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .checkers import SNIPPETS


@pytest.fixture(scope="session")
def snippet_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The snippet files copied to a temporary directory (caches and stubs go there too)."""
    project = tmp_path_factory.mktemp("typing") / "project"
    shutil.copytree(SNIPPETS, project, ignore=shutil.ignore_patterns("__pycache__"))
    return project
