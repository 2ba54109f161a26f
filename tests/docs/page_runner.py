"""Run the Python blocks of one docs page in order, in one fresh module, as a reader would.

Blocks may use top-level ``await`` (they run on one asyncio event loop kept for the
whole page, so objects made in one block work in the next), or be plain scripts that
call ``asyncio.run(main())`` themselves (the loop is not running between blocks).
Line numbers in tracebacks and in listener locations are those of the Markdown file.
"""

from __future__ import annotations
import __future__

import ast
import asyncio
import contextlib
import gc
import inspect
import io
import linecache
import sys
import types
from collections.abc import Iterator

from .markdown_blocks import CodeBlock, Page

__all__ = ["OutputMismatch", "run_page"]

_FUTURE_FLAGS = 0
for _feature in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _feature).compiler_flag


class OutputMismatch(AssertionError):
    """A block printed something else than the ``<!-- output -->`` text after it."""

    def __init__(self, block: CodeBlock, printed: str) -> None:
        super().__init__(
            f"{block.where}: the block printed\n{_indent(printed)}\n"
            f"but the page shows\n{_indent(block.expected_output or '')}\n"
            "Update the page with the real output (or fix the example)."
        )


def run_page(page: Page, source_text: str, *, update: bool = False) -> list[tuple[CodeBlock, str]]:
    """Run every non-fragment block of ``page`` in order, in one new ``__main__`` module.

    The page runs as a script would (as ``runpy`` runs one): ``__name__ == "__main__"``,
    so listener names read ``__main__.send_welcome`` and ``if __name__ == "__main__":``
    guards run.

    :param source_text: the page's Markdown, so tracebacks and ``inspect`` can show the
        lines of the page.
    :param update: collect output mismatches instead of raising on the first one.
    :return: ``(block, printed)`` for every block whose output differs (only with update).
    :raises OutputMismatch: if a block's output differs from the text the page shows.
    :raises BaseException: whatever a block raises, with a note naming the block.
    """
    mismatches: list[tuple[CodeBlock, str]] = []
    with _page_module(page.path, source_text) as namespace:
        loop = asyncio.new_event_loop()
        try:
            flags = 0
            for block in page.runnable:
                flags, printed = _run_block(block, namespace, loop, flags)
                if block.expected_output is None:
                    continue
                if _normalize(printed) != _normalize(block.expected_output):
                    if not update:
                        raise OutputMismatch(block, printed)
                    mismatches.append((block, printed))
        finally:
            _close_loop(loop)
    return mismatches


def _run_block(
    block: CodeBlock, namespace: dict[str, object], loop: asyncio.AbstractEventLoop, flags: int
) -> tuple[int, str]:
    # Pad with blank lines so that line numbers are the page's line numbers.
    source, filename = "\n" * (block.line - 1) + block.code, block.path
    printed = io.StringIO()
    try:
        code = compile(
            source,
            filename,
            "exec",
            flags=flags | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            dont_inherit=True,
        )
        with contextlib.redirect_stdout(printed):
            if code.co_flags & inspect.CO_COROUTINE:
                loop.run_until_complete(eval(code, namespace))
            else:
                exec(code, namespace)
    except BaseException as exc:
        exc.add_note(f"in the python block at {block.where}")
        raise
    finally:
        # Still show what the block printed in pytest's captured output.
        sys.stdout.write(printed.getvalue())
    # A `from __future__ import ...` in one block applies to the blocks after it.
    return flags | (code.co_flags & _FUTURE_FLAGS), printed.getvalue()


@contextlib.contextmanager
def _page_module(path: str, source_text: str) -> Iterator[dict[str, object]]:
    module = types.ModuleType("__main__", f"The code blocks of {path}")
    module.__file__ = path
    # Pydantic and typing.get_type_hints look classes' modules up in sys.modules;
    # runpy swaps __main__ the same way while it runs a script.
    saved_main = sys.modules["__main__"]
    sys.modules["__main__"] = module
    _cache_lines(path, source_text)
    try:
        yield module.__dict__
    finally:
        # Drop every object of the page, so that its event classes no longer claim
        # their ids (string ids resolve among live classes).
        module.__dict__.clear()
        sys.modules["__main__"] = saved_main
        linecache.cache.pop(path, None)
        # Classes live in reference cycles: collect now, so that the next page's
        # classes are the only ones claiming these ids.
        gc.collect()


def _cache_lines(path: str, text: str) -> None:
    """Let inspect.getsource and tracebacks read ``path`` whatever the working directory.

    mtime None keeps linecache.checkcache from dropping the entry.
    """
    linecache.cache[path] = (len(text), None, text.splitlines(keepends=True), path)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


def _normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def _indent(text: str) -> str:
    lines = text.rstrip("\n").splitlines() or ["(nothing)"]
    return "\n".join(f"    | {line}" for line in lines)
