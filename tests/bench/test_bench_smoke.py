"""Smoke test of the benchmark harness: it runs, covers every scenario, loses nothing.

No timing is asserted: the figures depend on the machine. This only keeps
``make bench`` from rotting while the in-memory path changes under it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"

# The five scenarios, as the harness names its measurements.
EXPECTED = {
    "throughput_1",  # 1. throughput, 1 listener
    "throughput_3",  # 1. throughput, 3 listeners
    "emit_cost",  # 2. emit cost
    "burst_100k",  # 3. burst memory
    "burst_1m",
    "burst_1m_tracemalloc",
    "latency_steady",  # 4. latency at a steady rate
    "latency_one",  # 4. one event at a time
    "sync_throughput",  # 5. sync listeners
}


Quick = tuple[subprocess.CompletedProcess[str], dict[str, Any]]


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Quick:
    """One quick run of the harness for typed-events alone, shared by the tests."""
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--only", "typed_events", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    payload: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    return done, payload


def test_quick_run_measures_every_scenario_and_delivers_everything(quick: Quick) -> None:
    done, payload = quick

    assert done.returncode == 0, done.stderr
    assert payload["errors"] == []
    assert set(payload["scenarios"]) == EXPECTED
    measured = payload["results"]["typed_events"]
    assert set(measured) == EXPECTED
    for name, entry in measured.items():
        assert entry["runs"], name
        for run in entry["runs"]:
            assert run["emitted"] > 0, name
            assert run["delivered"] == run["emitted"], (name, run)
    emit_forms = measured["emit_cost"]["metrics"]
    assert {"emit_us_instance", "emit_us_class", "emit_us_id"} <= set(emit_forms)
    assert "tracemalloc_peak_mb" in measured["burst_1m_tracemalloc"]["metrics"]
    assert "rss_growth_mb" in measured["burst_1m"]["metrics"]
    assert {"p50_us", "p99_us"} <= set(measured["latency_steady"]["metrics"])


def test_the_printed_report_names_each_scenario_and_the_targets(quick: Quick) -> None:
    done, payload = quick

    assert done.returncode == 0, done.stderr
    for heading in ("Throughput", "Emit cost", "Burst", "Emit-to-listener-start", "Sync listener"):
        assert heading in done.stdout
    assert "Targets from the issue" in done.stdout
    assert len(payload["targets"]) == 10
    # Litestar was not run, so no ratio to it is claimed.
    assert all(t["met"] is None for t in payload["targets"] if "Litestar" in t["name"])
