"""The seed's broken app without the plugin, for ``typed-events check`` (it builds fine)."""

from __future__ import annotations

from .seed_broken import build_plain_app

app = build_plain_app()
