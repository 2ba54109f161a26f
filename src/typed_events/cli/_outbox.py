"""``typed-events outbox``: watch an outbox table, or run its relay as a process.

```text
typed-events outbox status APP [--max-age SECONDS] [--format text|json]
typed-events outbox relay  APP
```

``APP`` is ``module:attribute`` naming a :class:`typed_events.sqlalchemy.Outbox`.
``status`` prints the backlog, the oldest waiting row's age and the dead-lettered rows;
it exits 1 when the oldest row is older than ``--max-age`` (a check for monitoring).
``relay`` enters the outbox's bus and the outbox, and publishes until SIGTERM or
SIGINT (then it finishes the batch in progress). Both exit 2 when the app cannot be
loaded or the database cannot be read. SQLAlchemy is imported only when a command
runs, so the rest of the command line works without the ``sqlalchemy`` extra.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import TYPE_CHECKING, Protocol

import anyio

from typed_events.cli._app import AppLoadError, load_object

if TYPE_CHECKING:
    from typed_events.sqlalchemy import Outbox, OutboxStatus

__all__ = ["add_parser"]

_EXPECTED = "a typed_events.sqlalchemy.Outbox"


class _Subcommands(Protocol):
    """What :func:`add_parser` uses of ``ArgumentParser.add_subparsers()``'s result."""

    def add_parser(
        self, name: str, *, help: str | None = ..., description: str | None = ...
    ) -> argparse.ArgumentParser:
        """Add the subcommand ``name`` and return its parser."""
        ...


def add_parser(subparsers: _Subcommands) -> None:
    """Register the ``outbox`` command and its actions on the ``typed-events`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("app", metavar="APP", help="module:attribute naming an Outbox")
    common.add_argument(
        "--app-dir", metavar="DIR", help="put DIR first on the import path (default: .)"
    )
    summary = "show an outbox table's backlog, or run its relay"
    command = subparsers.add_parser("outbox", help=summary, description=summary)

    def usage(args: argparse.Namespace) -> int:
        command.print_help(sys.stderr)
        return 2

    command.set_defaults(handler=usage)
    actions = command.add_subparsers(title="actions", metavar="ACTION")
    status = actions.add_parser(
        "status", parents=[common], help="backlog, oldest row's age, dead-lettered rows"
    )
    status.add_argument(
        "--max-age",
        type=float,
        metavar="SECONDS",
        help="exit 1 if the oldest waiting row is older than this",
    )
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.set_defaults(handler=_status)
    relay = actions.add_parser(
        "relay", parents=[common], help="publish committed rows until SIGTERM/SIGINT"
    )
    relay.set_defaults(handler=_relay)


def _load(args: argparse.Namespace) -> Outbox:
    try:
        from typed_events.sqlalchemy import Outbox
    except ModuleNotFoundError:
        raise AppLoadError(
            "the outbox command needs SQLAlchemy: pip install 'typed-events[sqlalchemy]'"
        ) from None
    outbox = load_object(args.app, args.app_dir, _EXPECTED)
    if not isinstance(outbox, Outbox):
        raise AppLoadError(
            f"APP {args.app!r} is a {type(outbox).__qualname__}, not {_EXPECTED}; "
            "point it at your Outbox object (for example myapp.db:outbox)"
        )
    return outbox


def _status(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    outbox = _load(args)
    try:
        status = anyio.run(outbox.status, backend="asyncio")
    except SQLAlchemyError as error:
        print(
            f"typed-events: error: cannot read outbox table {outbox.table.name!r}: {error}",
            file=sys.stderr,
        )
        return 2
    if args.format == "json":
        print(json.dumps(_as_json(status)))
    else:
        print(_as_text(status))
    too_old = args.max_age is not None and status.oldest_age > args.max_age
    if too_old and args.format == "text":
        print(
            f"typed-events: the oldest row is {status.oldest_age:.1f}s old, more than "
            f"--max-age {args.max_age:g}s: is a relay running?",
            file=sys.stderr,
        )
    return 1 if too_old else 0


def _as_text(status: OutboxStatus) -> str:
    line = f"outbox {status.table}: {status.backlog} waiting"
    if status.backlog:
        line += f", oldest {status.oldest_age:.1f}s old"
    dead = sum(status.dead_letters.values())
    if dead:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in status.dead_letters.items())
        line += f"; {dead} dead-lettered ({reasons})"
    return line


def _as_json(status: OutboxStatus) -> dict[str, object]:
    return {
        "table": status.table,
        "backlog": status.backlog,
        "oldest": status.oldest.isoformat() if status.oldest else None,
        "oldest_age": status.oldest_age,
        "dead_letters": status.dead_letters,
    }


def _relay(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from typed_events.errors import TypedEventsError

    outbox = _load(args)

    async def run() -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with outbox.bus, outbox:
                print(
                    f"typed-events: relaying outbox {outbox.table.name!r}; SIGTERM or Ctrl-C stops",
                    file=sys.stderr,
                    flush=True,
                )
                async for _ in signals:
                    break
        print(
            f"typed-events: relay stopped after publishing {outbox.published} row(s)",
            file=sys.stderr,
        )

    try:
        anyio.run(run, backend="asyncio")
    except (SQLAlchemyError, TypedEventsError, OSError) as error:
        print(f"typed-events: error: the outbox relay cannot run: {error}", file=sys.stderr)
        return 2
    return 0
