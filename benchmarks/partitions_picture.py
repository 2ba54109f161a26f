"""Draw 16 partitions of one event held by 3 processes, in SVG, for ``docs/redis.md``.

    .venv/bin/python benchmarks/partitions_picture.py docs/img/partitions.svg

Nothing in the picture is typed in by hand: the partition of each example key is the
library's own hash (``partition_of_key``), the stream names come from the key layout
(``PartitionKeys``), and which process holds which partition is the leases' own split
(``assignment``) of three live members. The output is the same on every run, so the
docs test can check that the committed picture is this script's.
"""

from __future__ import annotations

import sys
from html import escape
from pathlib import Path

from typed_events._partitioning import partition_of_key
from typed_events.backends.redis._leases import assignment
from typed_events.backends.redis._partitions import PartitionKeys

PARTITIONS = 16
MEMBERS = ("worker-a", "worker-b", "worker-c")
KEYS = ("order-42", "order-7", "order-1001", "order-31337", "order-5")
COLOURS = ("#4c78a8", "#f58518", "#54a24b")
TINTS = ("#dce6f1", "#fde5cc", "#dcedd8")

ROW, TOP, PAD = 26, 64, 12
KEY_X, KEY_W = PAD, 220
STREAM_X, STREAM_W = 330, 250
MEMBER_X, MEMBER_W = 680, 200
WIDTH = MEMBER_X + MEMBER_W + PAD


def holders() -> dict[int, int]:
    """Partition -> index of the member whose share it is."""
    return {
        partition: index
        for index, member in enumerate(MEMBERS)
        for partition in assignment(MEMBERS, member, PARTITIONS)
    }


def draw() -> str:
    """The SVG document."""
    keys = PartitionKeys("typed-events:", "order_placed", "shipping:app.ship", PARTITIONS)
    held_by = holders()
    height = TOP + PARTITIONS * ROW + 3 * ROW
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{PAD}" y="22" font-weight="bold" font-size="14">OrderPlaced(Event, '
        f"partition_key=&quot;order_id&quot;) on RedisStreamsBackend(partitions={PARTITIONS})"
        "</text>",
        f'<text x="{KEY_X}" y="{TOP - 14}" fill="#555">emit: BLAKE2b-64(order_id) % '
        f"{PARTITIONS}</text>",
        f'<text x="{STREAM_X}" y="{TOP - 14}" fill="#555">one stream per partition</text>',
        f'<text x="{MEMBER_X}" y="{TOP - 14}" fill="#555">an ordered listener\'s group</text>',
    ]

    def row_y(partition: int) -> int:
        return TOP + partition * ROW

    # Leases: a line from each partition to the process holding it (drawn first, below).
    member_h = (PARTITIONS * ROW - (len(MEMBERS) - 1) * PAD) // len(MEMBERS)
    member_y = [TOP + i * (member_h + PAD) for i in range(len(MEMBERS))]
    for partition, index in held_by.items():
        y = row_y(partition) + ROW // 2 - 2
        target = member_y[index] + member_h // 2
        out.append(
            f'<path d="M{STREAM_X + STREAM_W} {y} C{STREAM_X + STREAM_W + 50} {y} '
            f'{MEMBER_X - 50} {target} {MEMBER_X} {target}" fill="none" '
            f'stroke="{COLOURS[index]}" stroke-opacity="0.55" stroke-width="1.5"/>'
        )
    # Partition streams, tinted by holder.
    for partition in range(PARTITIONS):
        index = held_by[partition]
        y = row_y(partition)
        out.append(
            f'<rect x="{STREAM_X}" y="{y}" width="{STREAM_W}" height="{ROW - 4}" rx="3" '
            f'fill="{TINTS[index]}" stroke="{COLOURS[index]}"/>'
        )
        out.append(
            f'<text x="{STREAM_X + 8}" y="{y + 16}" font-family="monospace">'
            f"{escape(keys.stream(partition))}</text>"
        )
    # Example keys and the partition each hashes to.
    for number, key in enumerate(KEYS):
        partition = partition_of_key(key, PARTITIONS)
        y = TOP + (number * 3 + 1) * ROW
        target = row_y(partition) + ROW // 2 - 2
        out.append(
            f'<text x="{KEY_X}" y="{y + 4}" font-family="monospace">order_id='
            f"{escape(repr(key))}</text>"
        )
        out.append(
            f'<path d="M{KEY_X + KEY_W - 20} {y} C{STREAM_X - 40} {y} {STREAM_X - 50} '
            f'{target} {STREAM_X - 4} {target}" fill="none" stroke="#888" '
            'stroke-width="1.2" marker-end="url(#arrow)"/>'
        )
    out.insert(
        2,
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" '
        'fill="#888"/></marker></defs>',
    )
    # The processes, with the partitions each holds.
    for index, member in enumerate(MEMBERS):
        y = member_y[index]
        share = sorted(p for p, i in held_by.items() if i == index)
        out.append(
            f'<rect x="{MEMBER_X}" y="{y}" width="{MEMBER_W}" height="{member_h}" rx="6" '
            f'fill="{TINTS[index]}" stroke="{COLOURS[index]}" stroke-width="2"/>'
        )
        out.append(
            f'<text x="{MEMBER_X + 12}" y="{y + 24}" font-weight="bold">process '
            f"{escape(member)}</text>"
        )
        out.append(f'<text x="{MEMBER_X + 12}" y="{y + 44}">holds {len(share)} partitions:</text>')
        out.append(
            f'<text x="{MEMBER_X + 12}" y="{y + 62}" font-family="monospace">'
            f"{' '.join(map(str, share))}</text>"
        )
    notes_y = TOP + PARTITIONS * ROW + ROW
    out.append(
        f'<text x="{PAD}" y="{notes_y}" fill="#555">One order_id, one partition; one '
        "holder per partition: each order's events run one at a time, in emit order.</text>"
    )
    out.append(
        f'<text x="{PAD}" y="{notes_y + ROW}" fill="#555">A dead process\'s partitions move '
        "within lease_time + one heartbeat. Unordered listeners read every partition.</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "docs/img/partitions.svg")
    target.write_text(draw(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
