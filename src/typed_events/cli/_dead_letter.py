"""``typed-events dead-letter``: list, inspect, replay and delete the Redis backend's dead letters.

```text
typed-events dead-letter list    [SELECT] [--count N] [--format text|json]
typed-events dead-letter inspect ID [--format text|json]
typed-events dead-letter replay  (ID... | --all) [SELECT] [--keep] [--dry-run]
typed-events dead-letter delete  (ID... | --all) [SELECT]
```

``SELECT`` is any of ``--reason R``, ``--listener NAME`` (a part of the listener's name
or group) and ``--event ID``.

Every action takes ``--url`` (default: ``$TYPED_EVENTS_REDIS_URL``, then ``$REDIS_URL``,
then ``redis://localhost:6379/0``) and ``--prefix`` (the backend's ``stream_prefix``).
Exit codes: 0 done (``list``: no dead letters), 1 ``list`` found dead letters or a
replay/delete could not handle one, 2 usage error or Redis unreachable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from typed_events.backends.redis._client import Client
    from typed_events.backends.redis._dead_letter import DeadLetter

__all__ = ["add_parser", "safe_text"]

_PAGE = 500
_DEFAULT_URL = "redis://localhost:6379/0"

_Entry = tuple[bytes, Any]
"""A dead-letter stream entry: its id and fields (bytes: the client does not decode)."""


class _Subcommands(Protocol):
    """What :func:`add_parser` uses of ``ArgumentParser.add_subparsers()``'s result.

    argparse's class for it is private; any parser's subparsers object fits.
    """

    def add_parser(
        self, name: str, *, help: str | None = ..., description: str | None = ...
    ) -> argparse.ArgumentParser:
        """Add the subcommand ``name`` and return its parser."""
        ...


def add_parser(subparsers: _Subcommands) -> None:
    """Register the ``dead-letter`` command and its actions on the ``typed-events`` parser.

    :param subparsers: what ``add_subparsers()`` returned on the ``typed-events`` parser.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        help="Redis URL (default: $TYPED_EVENTS_REDIS_URL, $REDIS_URL, " + _DEFAULT_URL + ")",
    )
    common.add_argument(
        "--prefix", default="typed-events:", help="the backend's stream_prefix (%(default)s)"
    )
    selection = argparse.ArgumentParser(add_help=False)
    selection.add_argument("--reason", help="only dead letters with this reason")
    selection.add_argument("--listener", help="only those whose listener or group contains this")
    selection.add_argument("--event", help="only those of this event id")

    summary = "list, inspect, replay or delete the Redis backend's dead letters"
    command = subparsers.add_parser("dead-letter", help=summary, description=summary)

    def usage(args: argparse.Namespace) -> int:
        return _usage(command)

    command.set_defaults(handler=usage)
    actions = command.add_subparsers(title="actions", metavar="ACTION")

    listing = actions.add_parser(
        "list", parents=[common, selection], help="one line per dead letter, oldest first"
    )
    listing.add_argument("--count", type=int, default=100, help="show at most N (%(default)s)")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(handler=_with_client(_list))

    inspect = actions.add_parser(
        "inspect", parents=[common], help="every field of one dead letter, and its envelope"
    )
    inspect.add_argument("id", metavar="ID", help="the dead letter's entry id")
    inspect.add_argument("--format", choices=("text", "json"), default="text")
    inspect.set_defaults(handler=_with_client(_inspect))

    replay = actions.add_parser(
        "replay",
        parents=[common, selection],
        help="send dead letters back to their stream, for the listener that failed only",
    )
    replay.add_argument("ids", metavar="ID", nargs="*", help="entry ids (or --all)")
    replay.add_argument("--all", action="store_true", help="every dead letter selected")
    replay.add_argument("--keep", action="store_true", help="keep them in the dead-letter stream")
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed")
    replay.set_defaults(handler=_with_client(_replay))

    delete = actions.add_parser(
        "delete", parents=[common, selection], help="remove dead letters for good"
    )
    delete.add_argument("ids", metavar="ID", nargs="*", help="entry ids (or --all)")
    delete.add_argument("--all", action="store_true", help="every dead letter selected")
    delete.set_defaults(handler=_with_client(_delete))


def _usage(command: argparse.ArgumentParser) -> int:
    command.print_help(sys.stderr)
    return 2


def _with_client(
    action: Callable[[Client, str, argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            import anyio

            from typed_events.backends.redis._client import is_cluster, open_client
            from typed_events.backends.redis._connection import RedisError
        except ModuleNotFoundError:
            print(
                "typed-events: error: the dead-letter command needs the coredis client: "
                "pip install 'typed-events[redis]'",
                file=sys.stderr,
            )
            return 2
        # Imported here: the rest of the command line works without the redis extra.
        from typed_events.backends.redis._keys import dead_letter_key
        from typed_events.backends.redis._url import mask_url

        url = (
            args.url
            or os.environ.get("TYPED_EVENTS_REDIS_URL")
            or os.environ.get("REDIS_URL", _DEFAULT_URL)
        )

        async def session() -> int:
            async with contextlib.AsyncExitStack() as stack:
                try:  # the client connects on its first command: this reads the URL only
                    client = await stack.enter_async_context(open_client(url))
                except ValueError as error:
                    print(f"typed-events: error: bad --url: {error}", file=sys.stderr)
                    return 2
                stream = dead_letter_key(args.prefix, cluster=is_cluster(client))
                return await action(client, stream, args)

        try:
            return anyio.run(session)
        except (RedisError, OSError) as error:
            print(
                f"typed-events: error: Redis at {mask_url(url)} failed: {error}. Check --url "
                "(or $TYPED_EVENTS_REDIS_URL) and that redis-server runs there",
                file=sys.stderr,
            )
            return 2

    return run


async def _list(client: Client, key: str, args: argparse.Namespace) -> int:
    letters = [letter async for letter in _selected(client, key, args)]
    shown = letters[: max(args.count, 0)]
    if args.format == "json":
        summaries = [_summary(letter, args.prefix) for letter in shown]
        print(json.dumps(summaries, indent=2))  # escapes controls
    elif not letters:
        print(f"no dead letters in {key}")
    else:
        rows = [("ID", "REASON", "LISTENER GROUP", "EVENT", "PARTITION", "TRIES", "DETAIL")]
        rows += [
            (
                safe_text(letter.id),
                safe_text(letter.reason),
                safe_text(letter.group),
                safe_text(letter.event_type or "?"),
                _partition_text(args.prefix, letter),
                str(letter.attempts),
                _clip(safe_text(letter.detail), 60),
            )
            for letter in shown
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1])
        more = f" (showing {len(shown)}; use --count)" if len(shown) < len(letters) else ""
        print(f"{len(letters)} dead letter(s) in {key}{more}")
    return 1 if letters else 0


async def _inspect(client: Client, key: str, args: argparse.Namespace) -> int:
    from typed_events.backends.redis._dead_letter import DeadLetter

    entries = await _range(client, key, args.id, args.id)
    if not entries:
        print(f"typed-events: error: no dead letter {args.id} in {key}", file=sys.stderr)
        return 2
    letter = DeadLetter.from_entry(*entries[0])
    envelope: Any
    try:
        envelope = json.loads(letter.envelope)
    except (ValueError, UnicodeDecodeError, RecursionError):
        envelope = letter.envelope.decode("utf-8", "replace")
    if args.format == "json":
        print(json.dumps({**_summary(letter, args.prefix), "envelope": envelope}, indent=2))
        return 0
    for name, value in _summary(letter, args.prefix).items():
        shown_value = "-" if value is None else str(value)  # partition: not a partition stream
        print(f"{name + ':':<14}{safe_text(shown_value)}")
    cut = " (cut: the message was too large)" if letter.truncated else ""
    print(f"envelope{cut}:")
    # json.dumps escapes control characters; a non-JSON envelope is escaped line by line.
    shown = (
        json.dumps(envelope, indent=2)
        if not isinstance(envelope, str)
        else "\n".join(safe_text(line) for line in envelope.split("\n"))
    )
    print("  " + shown.replace("\n", "\n  "))
    return 0


async def _replay(client: Client, key: str, args: argparse.Namespace) -> int:
    from typed_events.backends.redis._dead_letter import ReplayError

    letters = await _chosen(client, key, args)
    if letters is None:
        return 2
    failed = 0
    for letter in letters:
        try:
            fields: dict[Any, Any] = letter.replay_fields()
            await _require_group(client, letter)
        except ReplayError as error:
            print(safe_text(f"cannot replay {letter.id}: {error}"), file=sys.stderr)
            failed += 1
            continue
        if args.dry_run:
            print(safe_text(f"would replay {letter.id} to {letter.stream} for {letter.group}"))
            continue
        new_id = await client.xadd(letter.stream, fields)
        if not args.keep:
            await client.xdel(key, [letter.id])
        print(
            safe_text(
                f"replayed {letter.id} to {letter.stream} as {_text(new_id)} for {letter.group}"
            )
        )
    return 1 if failed else 0


async def _require_group(client: Client, letter: DeadLetter) -> None:
    """Refuse a replay for a consumer group its stream no longer has (a renamed listener)."""
    from coredis.exceptions import ResponseError

    from typed_events.backends.redis._dead_letter import ReplayError

    try:
        groups = await client.xinfo_groups(letter.stream)
    except ResponseError:  # no such stream
        groups = ()
    names = sorted(_text(info.get(b"name")) for info in groups)
    if letter.group not in names:
        raise ReplayError(
            f"{letter.stream} has no consumer group {letter.group!r} (groups: "
            f"{', '.join(names) or 'none'}); was the listener renamed? Nothing would handle it"
        )


async def _delete(client: Client, key: str, args: argparse.Namespace) -> int:
    letters = await _chosen(client, key, args)
    if letters is None:
        return 2
    for letter in letters:
        await client.xdel(key, [letter.id])
    print(f"deleted {len(letters)} dead letter(s) from {key}")
    return 0


async def _chosen(client: Client, key: str, args: argparse.Namespace) -> list[DeadLetter] | None:
    """The dead letters named by id, or every selected one with --all; None: usage error."""
    from typed_events.backends.redis._dead_letter import DeadLetter

    if bool(args.ids) == bool(args.all):
        print("typed-events: error: name dead letter IDs, or pass --all", file=sys.stderr)
        return None
    if args.all:
        return [letter async for letter in _selected(client, key, args)]
    letters: list[DeadLetter] = []
    for entry_id in args.ids:
        entries = await _range(client, key, entry_id, entry_id)
        if not entries:
            print(f"typed-events: error: no dead letter {entry_id} in {key}", file=sys.stderr)
            return None
        letters.append(DeadLetter.from_entry(*entries[0]))
    return [letter for letter in letters if _matches(letter, args)]


async def _selected(
    client: Client, key: str, args: argparse.Namespace
) -> AsyncIterator[DeadLetter]:
    from typed_events.backends.redis._dead_letter import DeadLetter

    start = "-"
    while True:
        page = await _range(client, key, start, "+", count=_PAGE)
        for entry_id, fields in page:
            letter = DeadLetter.from_entry(entry_id, fields)
            if _matches(letter, args):
                yield letter
        if len(page) < _PAGE:
            return
        start = "(" + _text(page[-1][0])  # exclusive start: after the last one seen


async def _range(
    client: Client, key: str, start: str, end: str, *, count: int | None = None
) -> list[_Entry]:
    """``XRANGE key start end [COUNT count]``."""
    entries = await client.xrange(key, start, end, count=count)
    return [(_as_bytes(entry.identifier), entry.field_values) for entry in entries]


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _matches(letter: DeadLetter, args: argparse.Namespace) -> bool:
    if args.reason and letter.reason != args.reason:
        return False
    if args.event and letter.event_type != args.event:
        return False
    return not args.listener or args.listener in letter.group or args.listener in letter.listener


def _summary(letter: DeadLetter, prefix: str) -> dict[str, Any]:
    return {
        "id": letter.id,
        "time": letter.time,
        "reason": letter.reason,
        "detail": letter.detail,
        "stream": letter.stream,
        "partition": _partition(prefix, letter),
        "message_id": letter.message_id,
        "group": letter.group,
        "listener": letter.listener,
        "consumer": letter.consumer,
        "attempts": letter.attempts,
        "event_type": letter.event_type,
        "envelope_id": letter.envelope_id,
    }


def _partition(prefix: str, letter: DeadLetter) -> int | None:
    """The partition of the stream the letter came from; None for an unpartitioned one."""
    from typed_events.backends.redis._partitions import partition_of_stream

    found = partition_of_stream(prefix, letter.stream, event_id=letter.event_type or None)
    return None if found is None else found[1]


def _partition_text(prefix: str, letter: DeadLetter) -> str:
    partition = _partition(prefix, letter)
    return "-" if partition is None else str(partition)


def safe_text(text: str) -> str:
    """``text`` with every control character (terminal escapes, carriage returns, C1
    codes) written as a visible escape such as ``\\x1b``: what Redis holds is not trusted.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
