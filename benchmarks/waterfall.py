"""Draw the trace of ``examples/tracing.py`` as a Jaeger-style waterfall, in SVG.

    .venv/bin/python benchmarks/waterfall.py docs/img/trace-waterfall.svg

Runs the example's order (one emit, two listeners, one retried) with the real SDK and
an in-memory exporter, then draws one row per span: the tree on the left, a bar per span
on a shared time axis on the right, coloured by kind, red where the span failed. The
picture in ``docs/observability.md`` is this script's output.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.tracing import place_order

ROW, LABELS, BARS, PAD = 26, 360, 560, 12
COLOURS = {SpanKind.PRODUCER: "#4c78a8", SpanKind.CONSUMER: "#54a24b"}
OTHER, FAILED = "#9d9da1", "#e45756"


def spans_of_one_order() -> list[ReadableSpan]:
    """The example's spans, from the SDK's in-memory exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    anyio.run(place_order)
    provider.shutdown()
    return list(exporter.get_finished_spans())


def tree_order(spans: list[ReadableSpan]) -> list[tuple[int, ReadableSpan]]:
    """(depth, span), parents before children, siblings by start time."""
    ids = {s.context.span_id for s in spans if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    rows: list[tuple[int, ReadableSpan]] = []

    def visit(parent: int | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_time or 0):
            rows.append((depth, span))
            visit(span.context.span_id if span.context else None, depth + 1)

    visit(None, 0)
    return rows


def label(span: ReadableSpan) -> str:
    listener = (span.attributes or {}).get("typed_events.listener")
    attempt = (span.attributes or {}).get("typed_events.attempt")
    name = span.name
    if listener is not None:
        name += f"  {str(listener).rsplit('.', 1)[-1]}"
    if attempt is not None:
        name += f" (attempt {attempt})"
    return name


def draw(spans: list[ReadableSpan]) -> str:
    """The SVG document for ``spans`` (one trace)."""
    rows = tree_order(spans)
    start = min(s.start_time or 0 for s in spans)
    end = max(s.end_time or 0 for s in spans)
    scale = BARS / max(end - start, 1)
    width, height = LABELS + BARS + 3 * PAD + 70, (len(rows) + 2) * ROW + PAD
    total_ms = (end - start) / 1e6
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{PAD}" y="{ROW - 8}" font-weight="bold">trace '
        f"{spans[0].context.trace_id:032x}</text>"
        if spans[0].context
        else "",
        f'<text x="{LABELS + PAD}" y="{ROW - 8}" fill="#555">0 ms</text>',
        f'<text x="{LABELS + PAD + BARS}" y="{ROW - 8}" fill="#555" text-anchor="end">'
        f"{total_ms:.1f} ms</text>",
    ]
    for index, (depth, span) in enumerate(rows):
        y = (index + 1) * ROW + PAD // 2
        failed = span.status.status_code is StatusCode.ERROR
        colour = FAILED if failed else COLOURS.get(span.kind, OTHER)
        x = LABELS + PAD + ((span.start_time or start) - start) * scale
        bar = max(((span.end_time or end) - (span.start_time or start)) * scale, 2)
        if index % 2:
            out.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW}" fill="#f4f5f7"/>')
        out.append(
            f'<text x="{PAD + depth * 16}" y="{y + 17}" fill="{colour if failed else "#222"}">'
            f"{escape(label(span))}</text>"
        )
        out.append(
            f'<rect x="{x:.1f}" y="{y + 5}" width="{bar:.1f}" height="{ROW - 10}" rx="2" '
            f'fill="{colour}"><title>{escape(span.name)}</title></rect>'
        )
        duration = ((span.end_time or end) - (span.start_time or start)) / 1e6
        out.append(f'<text x="{x + bar + 4:.1f}" y="{y + 17}" fill="#555">{duration:.2f} ms</text>')
    legend_y = height - PAD
    out.append(
        f'<text x="{PAD}" y="{legend_y}" fill="#555">'
        f'<tspan fill="{COLOURS[SpanKind.PRODUCER]}">■ producer</tspan>   '
        f'<tspan fill="{COLOURS[SpanKind.CONSUMER]}">■ consumer</tspan>   '
        f'<tspan fill="{OTHER}">■ internal</tspan>   '
        f'<tspan fill="{FAILED}">■ failed attempt</tspan></text>'
    )
    out.append("</svg>")
    return "\n".join(line for line in out if line) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "docs/img/trace-waterfall.svg")
    target.write_text(draw(spans_of_one_order()), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
