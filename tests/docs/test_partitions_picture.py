"""The docs' partitions picture is the script's output: the library's hash, key layout and
lease split, drawn; a change to any of them shows as an outdated picture here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from typed_events._partitioning import partition_of_key
from typed_events.backends.redis._leases import assignment

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_picture_is_what_the_script_draws(tmp_path: Path) -> None:
    target = tmp_path / "partitions.svg"
    done = subprocess.run(
        [sys.executable, "benchmarks/partitions_picture.py", str(target)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    svg = target.read_text(encoding="utf-8")
    committed = (ROOT / "docs" / "img" / "partitions.svg").read_text(encoding="utf-8")
    assert committed == svg, "run: python benchmarks/partitions_picture.py docs/img/partitions.svg"

    streams = re.findall(r">(typed-events:order_placed:\d+)</text>", svg)
    assert streams == [f"typed-events:order_placed:{p}" for p in range(16)]
    members = ("worker-a", "worker-b", "worker-c")
    shares = re.findall(r'font-family="monospace">([\d ]+)</text>', svg)
    assert [list(map(int, s.split())) for s in shares] == [
        sorted(assignment(members, m, 16)) for m in members
    ]
    assert partition_of_key("order-42", 16) == 3  # the golden value the docs page quotes
