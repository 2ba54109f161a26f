"""Redis URLs in errors and logs: every password form masked; the ACL user as coredis reads it."""

from __future__ import annotations

import pytest

from typed_events.backends.redis._url import mask_url, url_user

URLS_WITH_SECRETS = [
    ("redis://user:hunter2@h:6379/0", "redis://user:***@h:6379/0"),
    ("redis://:hunter2@h", "redis://:***@h"),
    ("redis://h:6379/0?password=hunter2", "redis://h:6379/0?password=***"),
    (
        "rediss://h?ssl_cert_reqs=none&ssl_password=hunter2&username=u&password=hunter2",
        "rediss://h?ssl_cert_reqs=none&ssl_password=***&username=u&password=***",
    ),
    ("unix:///run/redis.sock?db=1&password=hunter2", "unix:///run/redis.sock?db=1&password=***"),
    ("unix://:hunter2@/run/redis.sock", "unix://:***@/run/redis.sock"),
    ("redis://u:hunter2@[::1]:6379?password=hunter2#x", "redis://u:***@[::1]:6379?password=***#x"),
    ("redis://h:6379/0", "redis://h:6379/0"),
    # Redis Cluster: a list of startup nodes, read without parsing one port.
    (
        "redis+cluster://app:hunter2@h1:7000,h2:7001,[::1]:7002/?password=hunter2",
        "redis+cluster://app:***@h1:7000,h2:7001,[::1]:7002/?password=***",
    ),
    ("rediss+cluster://:hunter2@h1,h2", "rediss+cluster://:***@h1,h2"),
    ("redis+cluster://h1:7000,h2:7001", "redis+cluster://h1:7000,h2:7001"),
    # A password with an unencoded "/" or "@" cannot be told from the rest: nothing shown.
    ("redis://u:hunter/2@h", "<unparsable URL>"),
    ("redis+cluster://u:hunter2@h1:7000,h2:7001/x@y", "<unparsable URL>"),
    ("redis+cluster://u:hun@ter2@h1:7000,h2:x7001", "<unparsable URL>"),
    ("redis://u:p@[::1]x", "<unparsable URL>"),
]


@pytest.mark.parametrize(("url", "masked"), URLS_WITH_SECRETS)
def test_every_form_of_password_in_a_url_is_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_the_user_is_read_from_the_url_as_redis_py_does() -> None:
    assert url_user("redis://billing:pw@h") == "billing"
    assert url_user("redis://h?username=billing&password=pw") == "billing"
    assert url_user("redis://a:pw@h?username=b") == "a"
    assert url_user("redis://:pw@h") == "default"
