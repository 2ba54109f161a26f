"""The ``typed-events`` command: check listeners in CI, list the wiring, export schemas.

```text
typed-events check APP [--format text|json|github] [--strict]
typed-events list APP [--format auto|table|plain|json|mermaid] [--leases]
typed-events schema APP [--format json|asyncapi] [--output FILE]
typed-events schema diff OLD.json NEW.json [--format text|json]
typed-events schema lock APP -o events.lock.json
typed-events schema check APP --lock events.lock.json [--mode MODE] [--format text|json|github]
typed-events outbox status|relay APP   (APP names a typed_events.sqlalchemy.Outbox)
```

``APP`` is ``module:attribute`` naming an :class:`~typed_events.EventBus`, a sequence of
listeners, or a Litestar app; ``--app-dir DIR`` puts DIR first on the import path (default:
the current directory). Exit codes: 0 clean, 1 findings (or breaking schema changes),
2 usage or import error. A user mistake never shows a raw traceback.

"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from typed_events._routing import Routing
from typed_events.cli import _dead_letter, _outbox, _schema_gate, _stubgen
from typed_events.cli._app import AppLoadError, LoadedApp, load_app
from typed_events.cli._leases import print_leases, read_leases
from typed_events.cli._output import Finding, event_views, render_check, render_list, render_table
from typed_events.cli._warnings import mutable_field_findings, subclass_findings, unhandled_finding
from typed_events.errors import DuplicateEventError, SignatureProblem
from typed_events.events import Event
from typed_events.schema import SchemaDocumentError, asyncapi_document, diff_schemas, event_schemas

__all__ = ["build_parser", "main"]

_APP_HELP = "module:attribute naming an EventBus, a list of listeners, or a Litestar app"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (the console script exits with it).

    :param argv: the arguments after the program name (default: ``sys.argv[1:]``).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["schema"] and arguments[1:2] in (["diff"], ["lock"], ["check"]):
        # argparse cannot have both `schema APP` and `schema diff OLD NEW` on one parser.
        arguments = [f"schema-{arguments[1]}", *arguments[2:]]
    parser = build_parser()
    args = parser.parse_args(arguments)
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args))
    except BrokenPipeError:
        # The reader left early (`typed-events schema APP | head`): not an error of ours.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command a pipe stopped
    except AppLoadError as error:
        print(f"typed-events: error: {error}", file=sys.stderr)
        if error.details:
            print(error.details, file=sys.stderr)
        return error.exit_code


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with the extension subcommands that are installed."""
    parser = argparse.ArgumentParser(
        prog="typed-events",
        description="Check, list and export the typed events of an app.",
        epilog="Exit codes: 0 clean, 1 findings (or breaking schema changes), "
        "2 usage or import error.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    # A closure, not a module function: the type of `commands` has no public name.
    def app_command(name: str, summary: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument("app", metavar="APP", help=_APP_HELP)
        command.add_argument(
            "--app-dir", metavar="DIR", help="put DIR first on the import path (default: .)"
        )
        return command

    check = app_command("check", "check every listener against its events")
    check.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="github prints GitHub Actions annotations on the listeners' lines",
    )
    check.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    check.set_defaults(handler=_run_check)

    listing = app_command("list", "show each event with its fields and listeners")
    listing.add_argument(
        "--format",
        choices=("auto", "table", "plain", "json", "mermaid"),
        default="auto",
        help="auto (the default) is a table on a terminal and plain text otherwise",
    )
    listing.add_argument(
        "--leases",
        action="store_true",
        help="read from the bus's Redis who holds each partition of the ordered listeners "
        "(a RedisStreamsBackend; --format auto, table, plain or json)",
    )
    listing.set_defaults(handler=_run_list)

    schema = app_command(
        "schema",
        "write the events' JSON Schemas (or AsyncAPI); `schema diff OLD NEW` compares two",
    )
    schema.add_argument(
        "--format",
        choices=("json", "asyncapi"),
        default="json",
        help="json: a JSON Schema per event, keyed by id; asyncapi: an AsyncAPI 3.0 document",
    )
    schema.add_argument("--title", help="AsyncAPI info.title (default: APP)")
    schema.add_argument("--api-version", default="0.1.0", help="AsyncAPI info.version")
    schema.add_argument("-o", "--output", help="write to this file instead of stdout")
    schema.set_defaults(handler=_run_schema)

    diff = commands.add_parser(
        "schema-diff",
        prog="typed-events schema diff",
        description="Classify each change between two schema documents; exit 1 if any breaks.",
    )
    diff.add_argument("old", metavar="OLD.json", help="the schemas as they were")
    diff.add_argument("new", metavar="NEW.json", help="the schemas as they are now")
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.set_defaults(handler=_run_schema_diff)

    _schema_gate.add_parsers(commands)
    _stubgen.add_parser(commands)
    _dead_letter.add_parser(commands)
    _outbox.add_parser(commands)
    return parser


class _Wiring:
    """A loaded app, inspected: its routing, its problems, and every event it knows."""

    def __init__(self, app: LoadedApp) -> None:
        self.app = app
        self.problems: list[SignatureProblem] = list(app.build_problems)
        self.errors: list[str] = list(app.build_errors)
        self.routing: Routing | None = None
        self.events: list[type[Event]] = []
        if not app.built:
            return
        try:
            self.routing, found = Routing.inspect(app.listeners, app.events)
        except DuplicateEventError as error:
            self.errors.append(str(error))
            return
        self.problems.extend(found)
        self.events = list(self.routing.registry)

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.errors)

    def findings(self) -> list[Finding]:
        findings = [_problem_finding(p) for p in self.problems]
        findings += [Finding("error", "duplicate event id", e) for e in self.errors]
        listeners_of = _listeners_by_id(self.app)
        received = [c for c in self.events if c.event_id in listeners_of]
        for event_class in received:
            findings += mutable_field_findings(event_class)
        subclasses = subclass_findings(received, listeners_of)
        findings += subclasses
        reported = {f.event_id for f in subclasses}
        for event_class in self.events:
            if event_class.event_id not in listeners_of and event_class.event_id not in reported:
                findings.append(unhandled_finding(event_class))
        return findings

    def require_built(self) -> Routing:
        """The routing, or an error listing why the app could not be wired."""
        if self.routing is None:
            lines = [str(p) for p in self.problems] + self.errors
            raise AppLoadError(
                f"{self.app.target} could not be wired ({len(lines)} problem(s); run "
                f"`typed-events check {self.app.target}` for details):\n  " + "\n  ".join(lines),
                exit_code=1,
            )
        return self.routing


def _problem_finding(problem: SignatureProblem) -> Finding:
    return Finding(
        "error",
        str(problem.kind),
        problem.message,
        problem.fix,
        problem.location,
        problem.listener,
        problem.event_id,
        problem.field,
    )


def _listeners_by_id(app: LoadedApp) -> dict[str, list[str]]:
    """Listener names by the event id they subscribe to.

    Subscribed even if the signature is wrong: that is reported once, as an error.
    """
    listeners: dict[str, list[str]] = {}
    for subscriber in app.listeners:
        for ref in subscriber.events:
            event_id = ref if isinstance(ref, str) else ref.event_id
            listeners.setdefault(event_id, []).append(subscriber.name)
    return listeners


def _run_check(args: argparse.Namespace) -> int:
    wiring = _Wiring(load_app(args.app, args.app_dir))
    findings = wiring.findings()
    print(
        render_check(
            findings,
            args.format,
            target=args.app,
            listeners=len(wiring.app.listeners) if wiring.app.built else None,
            events=len(wiring.events),
        )
    )
    if any(f.severity == "error" for f in findings):
        return 1
    return 1 if args.strict and findings else 0


def _run_list(args: argparse.Namespace) -> int:
    if args.leases and args.format == "mermaid":
        raise AppLoadError("--leases prints --format auto, table, plain or json, not mermaid")
    wiring = _Wiring(load_app(args.app, args.app_dir))
    routing = wiring.require_built()
    if args.leases:
        print_leases(read_leases(args.app, args.app_dir, wiring.events, routing), args.format)
        return 0
    views = event_views(wiring.events, routing)
    fmt = args.format
    if fmt in ("auto", "table"):
        try:
            from rich.console import Console
        except ModuleNotFoundError:
            if fmt == "table":
                raise AppLoadError(
                    "--format table needs rich: pip install 'typed-events[cli]'"
                ) from None
            fmt = "plain"
        else:
            if fmt == "table" or sys.stdout.isatty():
                Console().print(render_table(views, args.app))
                fmt = ""
    if fmt:
        print(render_list(views, "plain" if fmt == "auto" else fmt))
    if wiring.problems:
        print(
            f"typed-events: warning: {len(wiring.problems)} listener subscription(s) left out; "
            f"run `typed-events check {args.app}`",
            file=sys.stderr,
        )
    return 0


def _run_schema(args: argparse.Namespace) -> int:
    wiring = _Wiring(load_app(args.app, args.app_dir))
    routing = wiring.require_built()
    document: dict[str, Any]
    if args.format == "asyncapi":
        listeners = {
            event_id: [s.listener.name for s in subscriptions]
            for event_id, subscriptions in routing.routes.items()
        }
        document = asyncapi_document(
            wiring.events, listeners, title=args.title or args.app, version=args.api_version
        )
    else:
        document = event_schemas(wiring.events)
    text = json.dumps(document, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _run_schema_diff(args: argparse.Namespace) -> int:
    documents = [_read_json(path) for path in (args.old, args.new)]
    try:
        changes = diff_schemas(*documents)
    except SchemaDocumentError as error:
        raise AppLoadError(str(error)) from None
    breaking = [c for c in changes if c.breaking]
    if args.format == "json":
        rows = [{**dataclasses.asdict(c), "kind": c.kind} for c in changes]
        print(json.dumps({"breaking": bool(breaking), "changes": rows}, indent=2))
    else:
        for change in changes:
            print(f"{change.kind}: {change.event_id}: {change.message}")
        compatible = len(changes) - len(breaking)
        print(
            f"{len(breaking)} breaking, {compatible} compatible change(s)"
            if changes
            else "No changes."
        )
    return 1 if breaking else 0


def _read_json(path: str) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise AppLoadError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise AppLoadError(f"{path} is not JSON: {error}") from None
