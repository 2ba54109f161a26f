"""Benchmark typed-events side by side with Litestar, pyee, bubus, blinker and a floor.

Every (library, scenario, run) is a fresh process (``python -m scenarios ...``), so
peak RSS and import state do not leak from one measurement to the next; runs are
interleaved (run 1 of everything, then run 2, ...) so a noisy minute hits every
library alike. Prints Markdown tables (medians, min-max, ratios to Litestar and to the
floor) and the issue's targets, and writes everything to JSON.

    benchmarks/.venv/bin/python benchmarks/run.py            # full run, ~10-15 min
    benchmarks/.venv/bin/python benchmarks/run.py --quick    # smoke run, seconds
    benchmarks/.venv/bin/python benchmarks/run.py --only typed_events,litestar
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import report

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LIBRARIES = ("typed_events", "litestar", "pyee", "bubus", "floor", "blinker")
PACKAGES = (
    "typed-events",
    "litestar",
    "pyee",
    "blinker",
    "bubus",
    "pydantic",
    "pydantic-core",
    "anyio",
)
# bubus handles ~1,000 events/s and refuses past 100 pending: 100,000 events would take
# minutes per run, so its event counts are capped (the tables say so).
CAPS = {"bubus": 2_000}
QUICK_CAPS = {"bubus": 200}


@dataclass(frozen=True)
class Scenario:
    """A named measurement: a scenario function and its parameters, full and quick."""

    name: str
    function: str
    full: dict[str, Any]
    quick: dict[str, Any]
    runs: int | None = None  # None: the --runs value


SCENARIOS = (
    Scenario(
        "throughput_1", "throughput", {"n": 100_000, "listeners": 1}, {"n": 2_000, "listeners": 1}
    ),
    Scenario(
        "throughput_3", "throughput", {"n": 100_000, "listeners": 3}, {"n": 2_000, "listeners": 3}
    ),
    Scenario("emit_cost", "emit_cost", {"n": 100_000}, {"n": 2_000}),
    Scenario("burst_100k", "burst", {"n": 100_000, "trace": False}, {"n": 5_000, "trace": False}),
    Scenario("burst_1m", "burst", {"n": 1_000_000, "trace": False}, {"n": 20_000, "trace": False}),
    # tracemalloc slows allocation 3-5x (Litestar's 1M burst takes ~100 s under it):
    # one run, in its own process, apart from the RSS figure.
    Scenario(
        "burst_1m_tracemalloc",
        "burst",
        {"n": 1_000_000, "trace": True},
        {"n": 20_000, "trace": True},
        runs=1,
    ),
    Scenario(
        "latency_steady",
        "latency_steady",
        {"n": 40_000, "rate": 20_000, "warmup": 2_000},
        {"n": 2_000, "rate": 20_000, "warmup": 100},
    ),
    Scenario(
        "latency_one", "latency_one", {"n": 20_000, "warmup": 1_000}, {"n": 500, "warmup": 50}
    ),
    Scenario("sync_throughput", "sync_throughput", {"n": 20_000}, {"n": 500}),
)


def params_for(scenario: Scenario, library: str, quick: bool) -> dict[str, Any]:
    """The scenario's parameters for one library, with its cap applied."""
    params = dict(scenario.quick if quick else scenario.full)
    cap = (QUICK_CAPS if quick else CAPS).get(library)
    if cap is not None and params["n"] > cap:
        params["n"] = cap
        if "warmup" in params:
            params["warmup"] = min(params["warmup"], cap // 10)
    return params


def run_one(
    library: str, scenario: Scenario, params: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """Run one scenario of one library in a fresh process; its metrics, or an error."""
    command = [sys.executable, "-m", "scenarios", library, scenario.function, json.dumps(params)]
    try:
        done = subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        return {"error": f"exit {done.returncode}:\n{tail}"}
    metrics: dict[str, Any] = json.loads(lines[-1])
    return metrics


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median, min and max of every numeric metric over the successful runs."""
    keys = {key for run in runs for key, value in run.items() if isinstance(value, int | float)}
    summary = {}
    for key in sorted(keys):
        values = [run[key] for run in runs if isinstance(run.get(key), int | float)]
        summary[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return summary


def machine() -> dict[str, Any]:
    """What ran the benchmark: CPU, cores, OS, Python, package versions, commit."""
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(
                line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=HERE, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit or None,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        # Other work on the machine slows wall-clock figures: say how busy it was.
        "loadavg_start": round(os.getloadavg()[0], 2),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run in seconds")
    parser.add_argument("--only", default=",".join(LIBRARIES), help="comma-separated libraries")
    parser.add_argument(
        "--scenarios", default=",".join(s.name for s in SCENARIOS), help="comma-separated"
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="runs per measurement (default 3, quick 1)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON file (default results/latest[-quick].json)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per process")
    parser.add_argument(
        "--update-readme", action="store_true", help="put the tables in benchmarks/README.md"
    )
    parser.add_argument(
        "--from-json", type=Path, default=None, help="measure nothing: re-render a results file"
    )
    args = parser.parse_args(argv)
    args.libraries = [name for name in args.only.split(",") if name]
    unknown = [name for name in args.libraries if name not in LIBRARIES]
    if unknown:
        parser.error(f"unknown libraries {unknown}; choose from {', '.join(LIBRARIES)}")
    names = [name for name in args.scenarios.split(",") if name]
    known = {s.name: s for s in SCENARIOS}
    if missing := [name for name in names if name not in known]:
        parser.error(f"unknown scenarios {missing}; choose from {', '.join(known)}")
    args.chosen = [known[name] for name in names]
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.out is None:
        args.out = RESULTS / ("latest-quick.json" if args.quick else "latest.json")
    return args


def measure(args: argparse.Namespace) -> tuple[report.Results, list[str]]:
    """Run everything, interleaved by run; the results and the errors met."""
    collected: dict[str, dict[str, list[dict[str, Any]]]] = {}
    errors: list[str] = []
    for run in range(args.runs):
        for scenario in args.chosen:
            if run >= (scenario.runs or args.runs):
                continue
            for library in args.libraries:
                params = params_for(scenario, library, args.quick)
                started = time.monotonic()
                metrics = run_one(library, scenario, params, args.timeout)
                took = time.monotonic() - started
                if "error" in metrics:
                    errors.append(f"{library} {scenario.name} run {run + 1}: {metrics['error']}")
                    print(
                        f"  run {run + 1} {scenario.name:22} {library:13} FAILED ({took:.1f}s)",
                        file=sys.stderr,
                    )
                    continue
                print(
                    f"  run {run + 1} {scenario.name:22} {library:13} {took:6.1f}s", file=sys.stderr
                )
                collected.setdefault(library, {}).setdefault(scenario.name, []).append(metrics)
    results: report.Results = {}
    for library, scenarios in collected.items():
        for scenario in args.chosen:
            runs = scenarios.get(scenario.name)
            if runs:
                results.setdefault(library, {})[scenario.name] = {
                    "params": params_for(scenario, library, args.quick),
                    "runs": runs,
                    "metrics": summarize(runs),
                }
    return results, errors


def markdown(meta: dict[str, Any], results: report.Results, full_n: dict[str, int]) -> str:
    """The whole report: machine, tables, targets."""
    versions = ", ".join(
        f"{name} {version}" for name, version in meta["versions"].items() if version
    )
    header = [
        f"Measured {meta['date']} on {meta['cpu']} ({meta['cores']} cores), {meta['platform']}, "
        f"Python {meta['python']}; commit {meta['commit']}; "
        f"{meta['runs']} run(s) per figure{' (quick mode)' if meta['quick'] else ''}; "
        f"load average {meta.get('loadavg_start', '?')} at start, {meta.get('loadavg_end', '?')} "
        "at end (the benchmark itself accounts for about 1 of it, on 2 cores).",
        "",
        f"Versions: {versions}.",
        "",
    ]
    targets = report.render_targets(report.targets(results))
    return "\n".join(
        [*header, report.render(results, full_n), "#### Targets from the issue", "", targets, ""]
    )


def update_readme(text: str) -> None:
    """Replace the results section of benchmarks/README.md (between its markers)."""
    path = HERE / "README.md"
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    readme = path.read_text()
    before, rest = readme.split(start, 1)
    _, after = rest.split(end, 1)
    path.write_text(f"{before}{start}\n{text}\n{end}{after}")


def rerender(path: Path, readme: bool) -> int:
    """Print (and optionally put in the README) the tables of an earlier run."""
    payload = json.loads(path.read_text())
    full_n = {name: spec["params"]["n"] for name, spec in payload["scenarios"].items()}
    text = markdown(payload["meta"], payload["results"], full_n)
    print(text)
    if readme:
        update_readme(text)
    return 0


def main(argv: list[str]) -> int:
    """Run the benchmark; exit 1 if any measurement failed."""
    args = parse_args(argv)
    if args.from_json is not None:
        return rerender(args.from_json, args.update_readme)
    meta = {**machine(), "quick": args.quick, "runs": args.runs}
    mode = "quick" if args.quick else "full"
    print(f"benchmarking {', '.join(args.libraries)} ({mode}, {args.runs} run(s))", file=sys.stderr)
    started = time.monotonic()
    results, errors = measure(args)
    meta["seconds"] = round(time.monotonic() - started, 1)
    meta["loadavg_end"] = round(os.getloadavg()[0], 2)
    full_n = {s.name: (s.quick if args.quick else s.full)["n"] for s in SCENARIOS}
    text = markdown(meta, results, full_n)
    print(text)
    found = report.targets(results)
    payload = {
        "meta": meta,
        "scenarios": {
            s.name: {"function": s.function, "params": s.quick if args.quick else s.full}
            for s in args.chosen
        },
        "results": results,
        "targets": [{"name": t.name, "measured": t.measured, "met": t.met} for t in found],
        "errors": errors,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".tmp")
    temporary.write_text(json.dumps(payload, indent=1))
    temporary.replace(args.out)
    print(f"results written to {args.out} ({meta['seconds']} s)", file=sys.stderr)
    if args.update_readme:
        update_readme(text)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
