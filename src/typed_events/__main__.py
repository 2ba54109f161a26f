"""``python -m typed_events``: the same as the ``typed-events`` command."""

from .cli import main

raise SystemExit(main())
