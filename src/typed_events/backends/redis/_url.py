"""Redis URLs in messages: never print a password, in any form the client (coredis) accepts."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["mask_url", "url_user"]

# Query options the client passes to the connection that carry a secret: the login
# password, and the password of an encrypted TLS key file. Any option whose name says
# "password", "secret" or "token" is masked too, for a client that grows one.
_SECRET_WORDS = ("password", "secret", "token", "passwd")


def mask_url(url: object) -> str:
    """``url`` with every password replaced by ``***``, fit for errors and logs.

    Masks the ``user:password@`` part and query options such as ``?password=`` and
    ``?ssl_password=``.

    :param url: a ``redis://``-style URL (anything else is shown with ``repr``).
    """
    if not isinstance(url, str):
        return repr(url)
    try:
        parts = urlsplit(url)
        password, port = parts.password, parts.port
    except ValueError:
        return "<unparsable URL>"  # it may hold a password: do not echo it
    if password is not None:
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"  # an IPv6 literal
        netloc = f"{parts.username or ''}:***@{host}{f':{port}' if port else ''}"
        url = urlunsplit(parts._replace(netloc=netloc))
    base, mark, rest = url.partition("?")
    query, hash_mark, fragment = rest.partition("#")
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(_is_secret(name) for name, _ in pairs):
        masked = [(name, "***" if _is_secret(name) else value) for name, value in pairs]
        url = f"{base}{mark}{urlencode(masked, safe='*/:')}{hash_mark}{fragment}"
    return url


def url_user(url: str) -> str:
    """The ACL user ``url`` logs in as: its ``user@`` (which the client prefers), else its
    ``?username=``, else ``default``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "default"
    if parts.username:
        return unquote(parts.username)
    for name, value in parse_qsl(parts.query):
        if name == "username" and value:
            return value
    return "default"


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)
