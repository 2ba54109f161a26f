"""``python -m typed_events``: the same as the ``typed-events`` command."""

from typed_events.cli import main

raise SystemExit(main())
