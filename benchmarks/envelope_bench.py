"""What one envelope encode and decode costs, per call, optionally next to an older version.

Times ``typed_events.envelope`` (this checkout's) on a small event: ``encode`` as a
backend calls it (a new id and time), with an extension attribute (what a tracing
middleware adds), ``decode`` with ``expected_type`` (a consumer's call) and without (the
outbox relay's), and ``read_attributes``. With ``--against REF`` the module of that git
revision is loaded beside it from ``git show`` and the two take turns, so both see the
same machine. Median of ``--repeat`` rounds of ``--calls`` calls each.

    .venv/bin/python benchmarks/envelope_bench.py
    .venv/bin/python benchmarks/envelope_bench.py --against 409fcd8 --json results/envelope.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import typed_events.envelope
from typed_events import Event, EventRegistry


def load_revision(ref: str, directory: Path) -> ModuleType:
    """typed_events/envelope.py as of ``ref``, as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{ref}:src/typed_events/envelope.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = directory / f"envelope_{ref}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"envelope_{ref}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def cases(module: Any, tag: str) -> dict[str, Callable[[], object]]:
    """The calls to time, on an event class of this module's own (each version caches
    its wrapper model on the class)."""

    class Signup(Event, event_id=f"signup_{tag}"):
        email: str
        plan: str
        seats: int

    event = Signup(email="a@example.com", plan="team", seats=3)
    registry = EventRegistry([Signup])
    raw = module.encode(event, source="/typed-events/bench")
    encode, decode, read = module.encode, module.decode, module.read_attributes
    trace = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    event_id = Signup.event_id
    return {
        "encode": lambda: encode(event, source="/typed-events/bench"),
        "encode with an extension": lambda: encode(
            event, source="/typed-events/bench", extensions=trace
        ),
        "decode (consumer: expected_type)": lambda: decode(
            raw, registry, max_bytes=1_048_576, expected_type=event_id
        ),
        "decode (no expected_type)": lambda: decode(raw, registry),
        "read_attributes": lambda: read(raw),
    }


def per_call_us(call: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--against", help="a git revision to compare with (its envelope.py)")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    versions: dict[str, dict[str, Callable[[], object]]] = {
        "this checkout": cases(typed_events.envelope, "now")
    }
    with tempfile.TemporaryDirectory() as directory:
        if args.against:
            versions[args.against] = cases(load_revision(args.against, Path(directory)), "then")
        timings: dict[str, dict[str, list[float]]] = {
            version: {name: [] for name in calls} for version, calls in versions.items()
        }
        for _ in range(args.repeat):  # the versions take turns, case by case
            for name in versions["this checkout"]:
                for version, calls in versions.items():
                    timings[version][name].append(per_call_us(calls[name], args.calls))
    medians = {
        version: {name: statistics.median(values) for name, values in by_name.items()}
        for version, by_name in timings.items()
    }
    print(
        f"µs per call, median of {args.repeat} x {args.calls:,} calls; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}\n"
    )
    names = list(versions)
    print("| call | " + " | ".join(names) + (" | change |" if len(names) > 1 else " |"))
    print("|---|" + "---:|" * (len(names) + (len(names) > 1)))
    for case in medians["this checkout"]:
        row = [f"{medians[version][case]:.2f}" for version in names]
        if len(names) > 1:
            before, after = medians[names[1]][case], medians[names[0]][case]
            row.append(f"{(after - before) / before:+.0%}")
        print(f"| {case} | " + " | ".join(row) + " |")
    if args.json:
        args.json.write_text(json.dumps({"us_per_call": medians, "argv": sys.argv[1:]}, indent=2))


if __name__ == "__main__":
    main()
