"""Redis URLs in messages: never print a password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["mask_url"]


def mask_url(url: object) -> str:
    """``url`` with its password replaced by ``***``, fit for errors and logs.

    :param url: a ``redis://``-style URL (anything else is shown with ``repr``).
    """
    if not isinstance(url, str):
        return repr(url)
    try:
        parts = urlsplit(url)
        password, port = parts.password, parts.port
    except ValueError:
        return "<unparsable URL>"  # it may hold a password: do not echo it
    if password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}{f':{port}' if port else ''}"
    return urlunsplit(parts._replace(netloc=netloc))
