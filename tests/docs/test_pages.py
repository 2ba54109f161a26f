"""Every Python block of every docs page (and the README) runs against the real library.

One test case per page, so a failure names the page; tracebacks point at the page's lines.
After changing a page, ``DOCS_UPDATE_OUTPUT=1 pytest tests/docs`` rewrites its
``<!-- output -->`` blocks with what the code really prints (review the diff), and fails
to say it did.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .markdown_blocks import parse_page, replace_outputs
from .page_runner import run_page
from .pages import ROOT, doc_pages


@pytest.mark.parametrize("path", doc_pages())
def test_page_examples_run(
    path: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    page = parse_page(text, path, ROOT)
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
