"""`make demo`: run the seed's examples with typed events, then the broken one."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

# Run from anywhere: make the repository root importable so `examples` resolves.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples import broken_kwargs, multiple_events, multiple_listeners, welcome_email


def section(title: str) -> None:
    """Print a heading between examples."""
    print(f"\n== {title} ==")


def main() -> None:
    """Run each example in turn."""
    section("1. welcome email (one listener, event style)")
    anyio.run(welcome_email.main)
    section("2. one listener on two events (kwargs style)")
    anyio.run(multiple_events.main)
    section("3. two listeners on one event (trio backend this time)")
    anyio.run(multiple_listeners.main, backend="trio")
    section("4. the seed's **kwargs mistake, caught when the bus is built")
    broken_kwargs.main()


if __name__ == "__main__":
    main()
