"""Every Python block of every docs page (and the README) runs against the real library.

One test case per page, so a failure names the page; tracebacks point at the page's lines.
After changing a page, ``DOCS_UPDATE_OUTPUT=1 pytest tests/docs`` rewrites its
``<!-- output -->`` blocks with what the code really prints (review the diff), and fails
to say it did.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from .markdown_blocks import parse_page, replace_outputs
from .page_runner import run_page
from .pages import ROOT, doc_pages

# Repository files that pages show inline (GitHub shows a page raw, so it cannot include
# them): each must be one block of its page, character for character.
SHOWN_FILES = {
    "docs/cli.md": (
        "tests/cli/apps/myapp/events.py",
        "tests/cli/apps/myapp/broken.py",
        "tests/cli/apps/myapp/orders.py",
    ),
    "docs/testing.md": ("tests/docs/examples/test_signup.py",),
    "docs/litestar.md": ("examples/litestar_outbox.py",),
}


@pytest.mark.parametrize(("page_path", "files"), SHOWN_FILES.items())
def test_pages_show_the_files_they_name_as_they_are(page_path: str, files: tuple[str, ...]) -> None:
    page = parse_page((ROOT / page_path).read_text(encoding="utf-8"), page_path)
    shown = [block.code.strip("\n") for block in page.blocks]
    for file in files:
        text = (ROOT / file).read_text(encoding="utf-8").strip("\n")
        assert text in shown, f"{page_path} must show {file} as it is: copy the file into it"


@pytest.mark.parametrize("path", doc_pages())
def test_pages_speak_to_readers_not_to_the_team(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    # "The seed" was the team's name for the example of Litestar's events guide.
    assert not re.search(r"\bseed\b", text, re.IGNORECASE), (
        f"{path} says 'seed': say \"Litestar's events guide\""
    )


@pytest.mark.parametrize("path", doc_pages())
def test_page_examples_run(
    path: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    page = parse_page(text, path)
    without_reason = [block.where for block in page.fragments if not block.fragment_reason]
    assert not without_reason, (
        f"fragment marker(s) without a reason at {', '.join(without_reason)}: "
        "write <!-- fragment: why this block cannot run -->"
    )
    if any("REDIS_URL" in block.code for block in page.runnable):
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
    if any("DATABASE_URL" in block.code for block in page.runnable):
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("postgres_url"))
    # Examples that write files write them here, not into the checkout.
    monkeypatch.chdir(tmp_path)
    update = os.environ.get("DOCS_UPDATE_OUTPUT") == "1"
    mismatches = run_page(page, text, update=update)
    if mismatches:
        (ROOT / path).write_text(replace_outputs(text, mismatches), encoding="utf-8")
        pytest.fail(
            f"rewrote {len(mismatches)} output block(s) of {path} "
            f"(at {', '.join(block.where for block, _ in mismatches)}); review the diff"
        )
