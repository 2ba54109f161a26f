"""Which Markdown pages hold examples that must run."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT", "doc_pages"]

ROOT = Path(__file__).resolve().parents[2]


def doc_pages() -> list[str]:
    """Every page under ``docs/`` and the README, as paths relative to the repository."""
    pages = sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "docs").rglob("*.md"))
    if (ROOT / "README.md").is_file():
        pages.append("README.md")
    return pages
