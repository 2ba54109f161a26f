"""The docs' waterfall picture is drawn from real spans: the script runs and draws them all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_waterfall_script_draws_every_span_of_the_example(tmp_path: Path) -> None:
    target = tmp_path / "waterfall.svg"
    done = subprocess.run(
        [sys.executable, "benchmarks/waterfall.py", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    svg = target.read_text(encoding="utf-8")
    assert svg.startswith("<svg ")
    for row in (
        "POST /orders",
        "create order_placed",
        "process order_placed  reserve_stock",
        "UPDATE stock",
        "process order_placed  charge_card",
        "process order_placed  charge_card (attempt 2)",
    ):
        assert f">{row}</text>" in svg
    assert svg.count('fill="#e45756"><title>') == 1  # one failed attempt, drawn red
    committed = (ROOT / "docs" / "img" / "trace-waterfall.svg").read_text(encoding="utf-8")
    assert committed.count("<title>") == svg.count("<title>")  # the picture is up to date
