"""The seed's broken app with the plugin, for ``typed-events check`` (building it raises)."""

from __future__ import annotations

from .seed_broken import build_app

app = build_app()
