"""`make demo`: Litestar's events guide's examples with typed events, then the broken one."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import anyio

# Run from anywhere: make the repository root importable so `examples` resolves.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples import broken_kwargs, multiple_events, multiple_listeners, tracing, welcome_email


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
    section("4. the **kwargs mistake from Litestar's events guide, caught when the bus is built")
    broken_kwargs.main()
    section("5. the same events in a Litestar app (plugins=[TypedEventsPlugin(bus)])")
    run_litestar_app()
    section("6. tracing with OpenTelemetry (span <- parent, to the console)")
    # The Litestar app above set up logging at INFO; the retry's own log line is not the
    # point here, its span event is.
    logging.getLogger("typed_events").setLevel(logging.WARNING)
    anyio.run(tracing.main)


def run_litestar_app() -> None:
    """Drive the Litestar example with its test client, as requests would."""
    from litestar.testing import TestClient

    from examples import litestar_app

    logging.getLogger("httpx").setLevel(logging.WARNING)  # the test client logs each request
    with TestClient(litestar_app.app) as client:
        created = client.post(
            "/users", json={"first_name": "Ada", "last_name": "L", "email": "ada@example.com"}
        )
        client.post("/users/ada@example.com/password", json={"password": "s3cret"})
        client.delete("/users/ada@example.com", params={"reason": "moved away"})
    print("POST /users ->", created.status_code)
    for recipient, message in litestar_app.outbox:
        print(f"mail to {recipient}: {message}")
    print("support tickets:", litestar_app.support_tickets)


if __name__ == "__main__":
    main()
