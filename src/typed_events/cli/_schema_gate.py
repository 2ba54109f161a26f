"""``typed-events schema lock`` and ``typed-events schema check``: the schema gate in CI.

```text
typed-events schema lock APP -o events.lock.json [--mode MODE] [--force]
typed-events schema check APP --lock events.lock.json [--mode MODE] [--format text|json|github]
```

``lock`` records every event's JSON Schema per version (older versions are kept from the
file it rewrites, while the class still reads them); it refuses (exit 1) to overwrite a
locked version with a change that breaks ``--mode``, unless ``--force``, so re-locking
cannot hide what ``check`` would catch. ``check`` exits 1 when a change since
the lock breaks ``MODE`` (``backward``, the default, ``forward``, ``full``, or their
``-transitive`` forms) without a version bump and an upcaster, naming the event, the field
and the fix; 0 otherwise; 2 for a missing or unreadable lock file or an unknown mode.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from typed_events._routing import Routing
from typed_events.cli._app import AppLoadError, load_app
from typed_events.cli._output import Finding, github_line
from typed_events.events import Event
from typed_events.schema import (
    CompatibilityMode,
    LockFinding,
    SchemaDocumentError,
    check_lock,
    lock_schemas,
)

__all__ = ["add_parsers", "run_check", "run_lock"]

_APP_HELP = "module:attribute naming an EventBus, a list of listeners, or a Litestar app"
_MODES = [mode.value for mode in CompatibilityMode]


def add_parsers(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],  # pyright: ignore[reportPrivateUsage]  # argparse has no public name for it
) -> None:
    """Register ``schema lock`` and ``schema check`` (as ``schema-lock``/``schema-check``)."""
    lock = subparsers.add_parser(
        "schema-lock",
        prog="typed-events schema lock",
        description="Record every event's JSON Schema per version in a lock file to commit.",
    )
    _app_arguments(lock)
    lock.add_argument(
        "-o", "--output", metavar="FILE", required=True, help="the lock file (kept versions)"
    )
    lock.add_argument(
        "--mode",
        choices=_MODES,
        default="backward",
        help="refuse to overwrite a locked version with a change that breaks this mode",
    )
    lock.add_argument(
        "--force", action="store_true", help="record a breaking change to a locked version anyway"
    )
    lock.set_defaults(handler=run_lock)

    check = subparsers.add_parser(
        "schema-check",
        prog="typed-events schema check",
        description="Exit 1 if a change since the lock breaks the compatibility mode "
        "without a version bump and an upcaster.",
    )
    _app_arguments(check)
    check.add_argument("--lock", metavar="FILE", required=True, help="the committed lock file")
    check.add_argument(
        "--mode",
        choices=_MODES,
        default="backward",
        help="who must keep reading (default: backward)",
    )
    check.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="github prints GitHub Actions annotations on the events' lines",
    )
    check.set_defaults(handler=run_check)


def _app_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP", help=_APP_HELP)
    parser.add_argument(
        "--app-dir", metavar="DIR", help="put DIR first on the import path (default: .)"
    )


def _events(args: argparse.Namespace) -> list[type[Event]]:
    app = load_app(args.app, args.app_dir)
    routing, found = Routing.inspect(app.listeners, app.events)
    problems = [str(p) for p in [*app.build_problems, *found]] + app.build_errors
    if problems:
        raise AppLoadError(
            f"{args.app} could not be wired ({len(problems)} problem(s); run "
            f"`typed-events check {args.app}` for details):\n  " + "\n  ".join(problems),
            exit_code=1,
        )
    return list(routing.registry)


def run_lock(args: argparse.Namespace) -> int:
    """Write the lock file; return the exit code."""
    events = _events(args)
    output = Path(args.output)
    previous = _read_json(output) if output.exists() else None
    try:
        document = lock_schemas(events, previous)
        # Re-locking must not hide what the gate would catch: a locked version whose
        # schema changes in a way that breaks the mode needs a bump, not a new lock.
        overwritten = [
            f
            for f in (check_lock(previous, events, args.mode) if previous is not None else [])
            if f.breaking and f.direction is not None
        ]
    except SchemaDocumentError as error:
        raise AppLoadError(f"{output}: {error}") from None
    if overwritten and not args.force:
        for finding in overwritten:
            print(_text(finding))
        print(
            f"Refused: {output} is unchanged. Bump the version (with an upcaster) instead of "
            "changing a locked one, or pass --force to record the change anyway."
        )
        return 1
    output.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    versions = ", ".join(
        f"{event_id} v{'/'.join(entry['schemas'])}"
        for event_id, entry in document["events"].items()
    )
    print(f"locked {len(events)} event(s) in {output}: {versions or 'none'}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Check the app against the lock file; return the exit code."""
    lock_path = Path(args.lock)
    if not lock_path.is_file():
        raise AppLoadError(
            f"no lock file {lock_path}; write it with "
            f"`typed-events schema lock {args.app} -o {lock_path}` and commit it"
        )
    lock = _read_json(lock_path)
    events = _events(args)
    try:
        findings = check_lock(lock, events, args.mode)
    except SchemaDocumentError as error:
        raise AppLoadError(f"{lock_path}: {error}") from None
    breaking = [f for f in findings if f.breaking]
    if args.format == "json":
        rows = [dataclasses.asdict(f) for f in findings]
        print(json.dumps({"ok": not breaking, "mode": args.mode, "findings": rows}, indent=2))
        return 1 if breaking else 0
    render = _github if args.format == "github" else _text
    for finding in findings:
        print(render(finding))
    checked = f"{len(events)} event(s) checked against {lock_path}"
    if breaking:
        noun = "change" if len(breaking) == 1 else "changes"
        print(f"Failed: {len(breaking)} breaking {noun} under {args.mode} ({checked}).")
        return 1
    print(f"OK: no breaking change under {args.mode} ({checked}).")
    return 0


def _subject(finding: LockFinding) -> str:
    version = f" version {finding.version}" if finding.version is not None else ""
    direction = f" ({finding.direction})" if finding.direction else ""
    return f"{finding.event_id}{version}{direction}"


def _text(finding: LockFinding) -> str:
    kind = "breaking" if finding.breaking else "note"
    text = f"{kind}: {_subject(finding)}: {finding.message}"
    return f"{text}\n    fix: {finding.fix}" if finding.fix else text


def _github(finding: LockFinding) -> str:
    title = "breaking schema change" if finding.breaking else "schema note"
    return github_line(
        Finding(
            "error" if finding.breaking else "warning",
            title,
            f"{_subject(finding)}: {finding.message}",
            finding.fix,
            finding.location,
        )
    )


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AppLoadError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise AppLoadError(f"{path} is not JSON: {error}") from None
