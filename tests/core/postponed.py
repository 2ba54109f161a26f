"""Listeners whose annotations are postponed strings (PEP 563), checked by the bus."""

from __future__ import annotations

from typing import Any

from typed_events import Event, listener


class ArticlePublished(Event, event_id="postponed_article_published"):
    """An event whose listeners live in a module with postponed annotations."""

    title: str
    words: int


@listener(ArticlePublished)
async def index_article(event: ArticlePublished) -> None:
    """Event style, annotation given as a string."""


@listener(ArticlePublished)
async def count_words(title: str, words: int, **kwargs: Any) -> None:
    """Kwargs style with exact types."""


@listener(ArticlePublished)
async def wrong_words(title: str, words: str) -> None:
    """`words` is an int field: a str parameter cannot take it."""
