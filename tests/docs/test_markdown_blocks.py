"""The docs test's own machinery: finding blocks, markers, and running a page."""

from __future__ import annotations

import textwrap

import pytest

from .markdown_blocks import MarkerError, parse_page, replace_outputs
from .page_runner import OutputMismatch, run_page

FENCE = "```"


def md(text: str) -> str:
    """Markdown written with ~~~ in the test source for readability, as ``` fences."""
    return textwrap.dedent(text).replace("~~~", FENCE)


def test_finds_python_blocks_with_their_page_line_numbers() -> None:
    page = parse_page(
        md("""\
        # Title

        ~~~python
        a = 1
        ~~~

        ~~~bash
        echo not python
        ~~~

        ~~~py title="b.py"
        b = 2
        ~~~
        """),
        "docs/x.md",
    )
    assert [(b.line, b.code) for b in page.blocks] == [(4, "a = 1"), (12, "b = 2")]
    assert page.blocks[0].where == "docs/x.md:4"


def test_fragment_marker_skips_the_block_and_keeps_its_reason() -> None:
    page = parse_page(
        md("""\
        <!-- fragment: needs a real SMTP server -->
        ~~~python
        send_mail()
        ~~~
        <!-- fragment -->
        ~~~python
        also_skipped()
        ~~~
        """),
        "docs/x.md",
    )
    assert [b.fragment_reason for b in page.fragments] == ["needs a real SMTP server", ""]
    assert page.runnable == []


@pytest.mark.parametrize(
    "text",
    [
        "<!-- fragment: why -->\n\n~~~python\nx = 1\n~~~\n",  # not on the line just before
        "<!-- fragment: why -->\n~~~bash\nls\n~~~\n",  # not a python block
        "<!-- output -->\n~~~text\n1\n~~~\n",  # no python block before it
        "~~~python\nprint(1)\n~~~\nsome prose\n<!-- output -->\n~~~text\n1\n~~~\n",
        "~~~python\nprint(1)\n~~~\n<!-- output -->\n~~~json\n1\n~~~\n",  # not text
        "~~~python\nx = 1\n",  # never closed
        '~~~python\n--8<-- "tests/docs/examples/test_signup.py"\n~~~\n',  # raw on GitHub
    ],
)
def test_misplaced_markers_and_unclosed_fences_are_errors(text: str) -> None:
    with pytest.raises(MarkerError, match=r"docs/x\.md:\d+"):
        parse_page(md(text), "docs/x.md")


def test_blocks_inside_admonitions_are_dedented() -> None:
    page = parse_page(
        md("""\
        !!! note
            ~~~python
            if True:
                x = 1
            ~~~
        """),
        "docs/x.md",
    )
    assert page.blocks[0].code == "if True:\n    x = 1"


def test_blocks_share_one_namespace_and_may_await_or_run_their_own_loop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = md("""\
        ~~~python
        import asyncio
        value = 1
        ~~~
        ~~~python
        await asyncio.sleep(0)
        value += 1
        ~~~
        ~~~python
        async def main() -> int:
            return value + 1
        print(asyncio.run(main()))
        ~~~
        """)
    run_page(parse_page(text, "docs/x.md"), text)
    assert capsys.readouterr().out == "3\n"


def test_output_blocks_are_compared_and_can_be_rewritten() -> None:
    text = md("""\
        ~~~python
        print("real")
        ~~~

        <!-- output -->
        ~~~text
        stale
        ~~~
        """)
    page = parse_page(text, "docs/x.md")
    with pytest.raises(OutputMismatch, match=r"docs/x\.md:2"):
        run_page(page, text)
    mismatches = run_page(page, text, update=True)
    rewritten = replace_outputs(text, mismatches)
    assert "real" in rewritten
    assert "stale" not in rewritten
    run_page(parse_page(rewritten, "docs/x.md"), rewritten)


def test_a_failing_block_names_its_page_line() -> None:
    text = md("""\
        Some prose.

        ~~~python
        x = 1
        raise ValueError("boom")
        ~~~
        """)
    with pytest.raises(ValueError, match="boom") as caught:
        run_page(parse_page(text, "docs/x.md"), text)
    assert "in the python block at docs/x.md:4" in caught.value.__notes__
    assert caught.traceback[-1].lineno + 1 == 5  # pytest counts lines from 0


def test_future_imports_carry_over_to_later_blocks() -> None:
    text = md("""\
        ~~~python
        from __future__ import annotations
        ~~~
        ~~~python
        def f(x: NotDefinedAnywhere) -> None: ...
        assert f.__annotations__["x"] == "NotDefinedAnywhere"
        ~~~
        """)
    run_page(parse_page(text, "docs/x.md"), text)


def test_a_page_releases_its_event_classes_when_it_ends() -> None:
    # A string id resolves among live event classes; if a finished page kept its class
    # alive, the next page's class with the same id would be ambiguous.
    text = md("""\
        ~~~python
        from typed_events import Event, EventBus, listener

        class Probe(Event, event_id="docs_probe_event"):
            n: int

        @listener("docs_probe_event")
        async def on_probe(n: int) -> None: ...

        EventBus(listeners=[on_probe])
        ~~~
        """)
    run_page(parse_page(text, "docs/a.md"), text)
    run_page(parse_page(text, "docs/b.md"), text)
