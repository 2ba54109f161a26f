"""An extension module as stubgen and the Redis dead-letter tool write them."""

from __future__ import annotations

import argparse

from typed_events.apploader import AppLoadError


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``hello``."""
    parser = subparsers.add_parser("hello", help="say hello")
    parser.add_argument("--name", default="world")
    parser.add_argument("--fail", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print a greeting; exit 3 so the test sees the handler's own code."""
    if args.fail:
        raise AppLoadError(f"cannot greet {args.name!r}")
    print(f"hello {args.name}")
    return 3
