"""Turn benchmark results into Markdown tables, ratios and the issue's targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Results = dict[str, dict[str, Any]]  # library -> scenario -> {"params", "runs", "metrics"}

LABELS = {
    "typed_events": "typed-events",
    "litestar": "Litestar SimpleEventEmitter",
    "pyee": "pyee AsyncIOEventEmitter",
    "bubus": "bubus EventBus",
    "floor": "floor (validate, deque, await)",
    "blinker": "blinker send_async (inline)",
}
# Order of rows; blinker (and any inline runner) last, reported apart.
ORDER = ("typed_events", "litestar", "pyee", "bubus", "floor", "blinker")
INLINE = {"blinker"}


@dataclass(frozen=True)
class Block:
    """One table: one metric of one scenario, a row per library (and per variant)."""

    scenario: str
    metric: str
    title: str
    unit: str
    higher_is_better: bool
    floor_ratio: bool = True  # False where the floor's figure is ~0 (memory)
    variants: dict[str, str] = field(default_factory=dict)  # extra metric key -> row suffix
    notes: dict[str, str] = field(default_factory=dict)  # library -> note for this block


BLOCKS = (
    Block(
        "throughput_1",
        "events_per_s",
        "1a. Throughput, {n} events to 1 async listener",
        "events/s",
        True,
    ),
    Block(
        "throughput_3",
        "events_per_s",
        "1b. Throughput, {n} events to 3 async listeners",
        "events/s",
        True,
    ),
    Block(
        "throughput_1",
        "events_per_cpu_s",
        "1c. Throughput per CPU-second, 1 async listener (steadier on a busy machine)",
        "events/CPU-s",
        True,
    ),
    Block(
        "throughput_3",
        "events_per_cpu_s",
        "1d. Throughput per CPU-second, 3 async listeners",
        "events/CPU-s",
        True,
    ),
    Block(
        "emit_cost",
        "emit_us",
        "2. Emit cost: time inside emit per call, median batch (what a request handler pays)",
        "µs",
        False,
        variants={
            "emit_us_instance": "emit(instance)",
            "emit_us_class": "emit(Cls, **fields)",
            "emit_us_id": 'emit("id", **fields)',
        },
        notes={
            "floor": "Model(**kw) + append",
            "bubus": "dispatch(Model(**kw))",
            "blinker": "listener included",
        },
    ),
    Block("burst_100k", "rss_growth_mb", "3a. Burst of {n}: peak RSS growth", "MB", False, False),
    Block("burst_1m", "rss_growth_mb", "3b. Burst of {n}: peak RSS growth", "MB", False, False),
    Block(
        "burst_1m_tracemalloc",
        "tracemalloc_peak_mb",
        "3c. Burst of {n}: tracemalloc peak (separate process)",
        "MB",
        False,
        False,
    ),
    Block(
        "burst_1m",
        "events_per_s",
        "3d. Burst of {n}: events/s until all delivered",
        "events/s",
        True,
    ),
    Block(
        "latency_steady",
        "p50_us",
        "4a. Emit-to-listener-start at 20,000 events/s: p50",
        "µs",
        False,
    ),
    Block(
        "latency_steady",
        "p99_us",
        "4b. Emit-to-listener-start at 20,000 events/s: p99",
        "µs",
        False,
    ),
    Block(
        "latency_one",
        "p50_us",
        "4c. One event at a time (emit, wait until handled): p50 round trip",
        "µs",
        False,
        variants={"and_wait_p50_us": "emit_and_wait"},
    ),
    Block(
        "sync_throughput",
        "events_per_s",
        "5. Sync listener throughput (worker threads)",
        "events/s",
        True,
        notes={"pyee": "inline, no thread", "bubus": "inline, no thread"},
    ),
)


def median_of(results: Results, library: str, scenario: str, metric: str) -> float | None:
    """The median of ``metric`` over the runs, or None if it was not measured."""
    summary = results.get(library, {}).get(scenario, {}).get("metrics", {}).get(metric)
    return None if summary is None else summary["median"]


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 10_000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or not reference:
        return "—"
    return f"{value / reference:.2f}x"


def _delivery_note(entry: dict[str, Any]) -> str:
    metrics = entry.get("metrics", {})
    emitted = metrics.get("emitted", {}).get("min")
    got = metrics.get("delivered", {}).get("min")
    notes = []
    if emitted is not None and got is not None and got < emitted:
        notes.append(f"delivered {got:,.0f} of {emitted:,.0f}")
    rejected = metrics.get("rejected", {}).get("max")
    if rejected:
        notes.append(f"{rejected:,.0f} rejected")
    return ", ".join(notes)


def render_block(block: Block, results: Results, full_n: dict[str, int]) -> list[str]:
    """A Markdown table for one block (empty when no library measured it)."""
    rows: list[str] = []
    litestar = median_of(results, "litestar", block.scenario, block.metric)
    floor = median_of(results, "floor", block.scenario, block.metric)
    for library in ORDER:
        entry = results.get(library, {}).get(block.scenario)
        if entry is None:
            continue
        keys = [(k, s) for k, s in block.variants.items() if k in entry["metrics"]]
        if block.metric in entry["metrics"]:
            keys.insert(0, (block.metric, ""))
        for key, suffix in keys:
            summary = entry["metrics"][key]
            notes = [n for n in (block.notes.get(library, ""), _delivery_note(entry)) if n]
            n = entry["params"].get("n")
            if n is not None and n != full_n.get(block.scenario, n):
                notes.append(f"n={n:,} (capped)")
            label = LABELS.get(library, library) + (f" {suffix}" if suffix else "")
            rows.append(
                f"| {label} | {_number(summary['median'])} "
                f"| {_number(summary['min'])}-{_number(summary['max'])} "
                f"| {_ratio(summary['median'], litestar)} "
                f"| {_ratio(summary['median'], floor) if block.floor_ratio else '—'} "
                f"| {'; '.join(notes)} |"
            )
    if not rows:
        return []
    better = "higher" if block.higher_is_better else "lower"
    n = full_n.get(block.scenario)
    title = block.title.replace("{n}", f"{n:,}" if n is not None else "n")
    return [
        f"#### {title} ({block.unit}, {better} is better)",
        "",
        "| library | median | min-max | x Litestar | x floor | notes |",
        "|---|---:|---:|---:|---:|---|",
        *rows,
        "",
    ]


def render(results: Results, full_n: dict[str, int]) -> str:
    """Every block, in scenario order, as Markdown."""
    lines: list[str] = []
    for block in BLOCKS:
        lines += render_block(block, results, full_n)
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, checked against this run."""

    name: str
    measured: str
    met: bool | None  # None: not measured in this run


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def targets(results: Results) -> list[Target]:
    """The issue's targets for typed-events, as ratios within this run."""

    def te(scenario: str, metric: str) -> float | None:
        return median_of(results, "typed_events", scenario, metric)

    def ls(scenario: str, metric: str) -> float | None:
        return median_of(results, "litestar", scenario, metric)

    def fl(scenario: str, metric: str) -> float | None:
        return median_of(results, "floor", scenario, metric)

    def at_least(name: str, value: float | None, bound: float, unit: str = "x") -> Target:
        shown = "—" if value is None else f"{value:.2f}{unit}"
        return Target(name, shown, None if value is None else value >= bound)

    def at_most(name: str, value: float | None, bound: float, unit: str = "x") -> Target:
        shown = "—" if value is None else f"{value:.2f}{unit}"
        return Target(name, shown, None if value is None else value <= bound)

    tp1 = ("throughput_1", "events_per_s")
    tp3 = ("throughput_3", "events_per_s")
    growth_100k = te("burst_100k", "rss_growth_mb")
    growth_1m = te("burst_1m", "rss_growth_mb")
    flat = _div(growth_1m, max(growth_100k or 0.0, 1.0) if growth_100k is not None else None)
    emitted = te("burst_1m", "emitted")
    got = te("burst_1m", "delivered")
    return [
        at_least("throughput, 1 listener: ≥ 3x Litestar", _div(te(*tp1), ls(*tp1)), 3),
        at_least("throughput, 3 listeners: ≥ 5x Litestar", _div(te(*tp3), ls(*tp3)), 5),
        at_most("throughput, 1 listener: within 2x of the floor", _div(fl(*tp1), te(*tp1)), 2),
        at_most("throughput, 3 listeners: within 2x of the floor", _div(fl(*tp3), te(*tp3)), 2),
        at_most(
            "emit(instance): ≤ 1.5x Litestar's emit",
            _div(te("emit_cost", "emit_us_instance"), ls("emit_cost", "emit_us")),
            1.5,
        ),
        at_most(
            'emit("id", **fields): ≤ 4x Litestar\'s emit',
            _div(te("emit_cost", "emit_us_id"), ls("emit_cost", "emit_us")),
            4,
        ),
        at_most("burst: RSS growth at 1M ≤ 1.5x that at 100k (flat)", flat, 1.5),
        Target(
            "burst: nothing lost (delivered == emitted at 1M)",
            "—" if got is None else f"{got:,.0f} of {emitted:,.0f}",
            None if got is None else got == emitted,
        ),
        at_most(
            "p99 emit-to-start at 20,000/s < 1,000 µs", te("latency_steady", "p99_us"), 1000, " µs"
        ),
        at_most("one event at a time ≤ 10 µs (p50)", te("latency_one", "p50_us"), 10, " µs"),
    ]


def render_targets(found: list[Target]) -> str:
    """The targets as a Markdown table."""
    mark = {True: "met", False: "**not met**", None: "not measured"}
    lines = ["| target (typed-events) | this run | status |", "|---|---:|---|"]
    lines += [f"| {t.name} | {t.measured} | {mark[t.met]} |" for t in found]
    return "\n".join(lines)
