"""Find the Python code blocks of a Markdown page, with the markers that change how they run.

Conventions (the docs test enforces them, see ``tests/docs/test_pages.py``):

- Every fenced block whose language is ``python`` (or ``py``, ``python3``) runs.
- ``<!-- fragment: REASON -->`` on the line just before the opening fence skips that
  block; the reason must say why it cannot run.
- ``<!-- output -->`` on the line just before a ``text`` fence that follows a Python
  block (blank lines allowed between them) makes that text the exact standard output the
  Python block must print.
- No ``--8<-- "path"`` includes: GitHub shows a page's raw Markdown (the README links
  to the pages), where an include is a bare ``--8<--`` line instead of code. A page that
  shows a repository file holds its text inline; ``tests/docs/test_pages.py`` checks that
  the copy is the file.

A marker anywhere else is an error, so a misplaced marker cannot hide a block.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

__all__ = ["CodeBlock", "MarkerError", "Page", "parse_page", "replace_outputs"]

PYTHON_LANGUAGES = frozenset({"python", "py", "python3"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_FRAGMENT = re.compile(r"^\s*<!--\s*fragment\b\s*:?(?P<reason>.*?)-->\s*$")
_OUTPUT = re.compile(r"^\s*<!--\s*output\s*-->\s*$")
_SNIPPET = re.compile(r'-{1,}8<-{1,}\s+"(?P<path>[^"]+)"')


class MarkerError(ValueError):
    """A marker comment or fence the conventions above do not allow."""


@dataclass
class CodeBlock:
    """One fenced Python block of a page.

    :param line: 1-based line number of the block's first code line in the page.
    :param code: the code, dedented by the fence's indentation.
    :param fragment_reason: None for a block that runs; the marker's reason (maybe
        empty, which the test rejects) for a fragment.
    :param expected_output: the ``<!-- output -->`` text that follows, if any.
    :param output_span: 0-based ``(first, end)`` line indexes of that text in the page,
        so that ``DOCS_UPDATE_OUTPUT=1`` can rewrite it.
    """

    path: str
    line: int
    code: str
    fragment_reason: str | None = None
    expected_output: str | None = None
    output_span: tuple[int, int] | None = None
    output_indent: str = ""

    @property
    def is_fragment(self) -> bool:
        """True if the block is marked as a fragment and does not run."""
        return self.fragment_reason is not None

    @property
    def where(self) -> str:
        """``path:line`` of the block, as failures name it."""
        return f"{self.path}:{self.line}"


@dataclass
class Page:
    """A Markdown page and its Python blocks, in page order."""

    path: str
    blocks: list[CodeBlock] = field(default_factory=list)

    @property
    def runnable(self) -> list[CodeBlock]:
        """The blocks that run (every block not marked as a fragment)."""
        return [b for b in self.blocks if not b.is_fragment]

    @property
    def fragments(self) -> list[CodeBlock]:
        """The blocks marked as fragments."""
        return [b for b in self.blocks if b.is_fragment]


def parse_page(text: str, path: str) -> Page:
    """Collect the Python blocks of a Markdown page.

    :param text: the page's Markdown.
    :param path: how messages and tracebacks name the page (e.g. ``docs/tutorial.md``).
    :raises MarkerError: for a marker that is not just before a fence it applies to, an
        unclosed fence, or a ``--8<--`` include.
    """
    lines = text.splitlines()
    page = Page(path)
    last_was_python = False  # only blank lines since the last Python block closed
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = _FENCE.match(line)
        if opening is None:
            is_marker = bool(_FRAGMENT.match(line) or _OUTPUT.match(line))
            if is_marker and not (index + 1 < len(lines) and _FENCE.match(lines[index + 1])):
                raise MarkerError(
                    f"{path}:{index + 1}: the marker {line.strip()!r} is not on the line just "
                    "before a code fence; put it directly above the ``` line it applies to"
                )
            if line.strip() and not is_marker:
                last_was_python = False
            index += 1
            continue
        end = _closing_line(lines, index, opening)
        if end is None:
            raise MarkerError(f"{path}:{index + 1}: this code fence is never closed")
        body = _unindent(lines[index + 1 : end], len(opening["indent"]))
        language = (opening["info"].split() or [""])[0].lower().strip("{.}")
        previous = lines[index - 1] if index else ""
        fragment = _FRAGMENT.match(previous)
        output = _OUTPUT.match(previous)
        if language in PYTHON_LANGUAGES:
            if output:
                raise MarkerError(f"{path}:{index}: <!-- output --> must precede a text fence")
            block = CodeBlock(
                path,
                index + 2,
                textwrap.dedent(body),
                fragment["reason"].strip() if fragment else None,
            )
            if _SNIPPET.search(block.code):
                raise MarkerError(
                    f"{block.where}: a --8<-- include shows as that bare line on GitHub, which "
                    "shows the raw page; put the file's code in the block (tests/docs/"
                    "test_pages.py SHOWN_FILES keeps the copy equal to the file)"
                )
            page.blocks.append(block)
            last_was_python = True
        elif fragment:
            raise MarkerError(
                f"{path}:{index}: <!-- fragment --> must precede a python fence, not {language!r}"
            )
        elif output:
            if language != "text" or not last_was_python:
                raise MarkerError(
                    f"{path}:{index}: <!-- output --> must precede a text fence that follows "
                    "a python block"
                )
            page.blocks[-1].expected_output = textwrap.dedent(body)
            page.blocks[-1].output_span = (index + 1, end)
            page.blocks[-1].output_indent = opening["indent"]
            last_was_python = False
        else:
            last_was_python = False
        index = end + 1
    return page


def _unindent(lines: list[str], indent: int) -> str:
    """Remove the fence's indentation (a block inside an admonition or a tab)."""
    return "\n".join(raw[indent:] if raw[:indent].strip() == "" else raw for raw in lines)


def _closing_line(lines: list[str], start: int, opening: re.Match[str]) -> int | None:
    fence = opening["fence"]
    closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    for index in range(start + 1, len(lines)):
        if closing.match(lines[index]):
            return index
    return None


def replace_outputs(text: str, replacements: list[tuple[CodeBlock, str]]) -> str:
    """The page ``text`` with the output blocks of these blocks replaced by new text.

    :param replacements: ``(block, printed)`` pairs; each block must have an output span.
    """
    lines = text.splitlines()
    # From the bottom up, so that earlier spans stay valid.
    for block, printed in sorted(replacements, key=lambda pair: pair[0].line, reverse=True):
        assert block.output_span is not None
        first, end = block.output_span
        new = [f"{block.output_indent}{line}".rstrip() for line in printed.strip("\n").splitlines()]
        lines[first:end] = new
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")
