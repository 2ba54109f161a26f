"""What ``typed-events check`` and ``typed-events list`` print, in each ``--format``.

Pure rendering: :mod:`typed_events.cli` gathers the facts, these functions turn them into
text (plain, rich table, JSON, GitHub Actions annotations, Mermaid).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic_core import to_jsonable_python

from typed_events._routing import Routing
from typed_events._typecompat import describe
from typed_events.events import Event
from typed_events.listeners import Listener, ListenerOptions

__all__ = [
    "EventView",
    "FieldView",
    "Finding",
    "ListenerView",
    "event_views",
    "github_line",
    "render_check",
    "render_list",
]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One line of ``typed-events check``: an error (exit 1) or a warning."""

    severity: Severity
    title: str
    message: str
    fix: str = ""
    location: str = ""
    listener: str | None = None
    event_id: str | None = None
    field: str | None = None

    @property
    def file(self) -> str | None:
        """The file of ``location``, relative to the current directory when inside it."""
        path, _, line = self.location.rpartition(":")
        if not path or not line.isdigit():
            return None
        return display_path(path)

    @property
    def line(self) -> int | None:
        """The line of ``location``, if known."""
        _, _, line = self.location.rpartition(":")
        return int(line) if line.isdigit() else None


def display_path(path: str) -> str:
    """``path`` relative to the current directory if it is inside it, else unchanged."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative


# -- check -----------------------------------------------------------------------------


def render_check(
    findings: Sequence[Finding], fmt: str, *, target: str, listeners: int | None, events: int
) -> str:
    """``check``'s report in ``fmt`` (``text``, ``json`` or ``github``).

    :param listeners: how many listeners were checked; None if the app's own module
        failed to build its bus (so nothing could be counted).
    """
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    if fmt == "json":
        return json.dumps(
            {
                "app": target,
                "ok": not errors,
                "listeners": listeners,
                "events": events,
                "errors": [_finding_json(f) for f in errors],
                "warnings": [_finding_json(f) for f in warnings],
            },
            indent=2,
        )
    render = github_line if fmt == "github" else _text_lines
    lines = [render(finding) for finding in findings]
    lines.append(_summary(len(errors), len(warnings), target, listeners, events))
    return "\n".join(lines)


def _summary(errors: int, warnings: int, target: str, listeners: int | None, events: int) -> str:
    if listeners is None:
        checked = f"{target} failed to build its bus"
    else:
        checked = f"{_count(listeners, 'listener')} and {_count(events, 'event')} in {target}"
    if not errors and not warnings:
        return f"OK: checked {checked}, no problems."
    verdict = "Failed" if errors else "OK"
    return f"{verdict}: {_count(errors, 'error')}, {_count(warnings, 'warning')} ({checked})."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _text_lines(finding: Finding) -> str:
    where = f"{finding.file}:{finding.line}: " if finding.file else ""
    text = f"{where}{finding.severity}: {_subject(finding)}{finding.message}"
    return f"{text}\n    fix: {finding.fix}" if finding.fix else text


def _subject(finding: Finding) -> str:
    parts: list[str] = []
    if finding.listener:
        parts.append(finding.listener)
    if finding.event_id:
        parts.append(f'event "{finding.event_id}"')
    if finding.field:
        parts.append(f'field "{finding.field}"')
    return ", ".join(parts) + ": " if parts else ""


def github_line(finding: Finding) -> str:
    """One GitHub Actions annotation (``::error file=...,line=...::message``)."""
    # https://docs.github.com/actions/reference/workflow-commands-for-github-actions
    properties: list[str] = []
    if finding.file:
        properties.append(f"file={_escape_property(finding.file)}")
        if finding.line:
            properties.append(f"line={finding.line}")
    properties.append(f"title={_escape_property('typed-events: ' + finding.title)}")
    message = _subject(finding) + finding.message
    if finding.fix:
        message += f". Fix: {finding.fix}"
    return f"::{finding.severity} {','.join(properties)}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _finding_json(finding: Finding) -> dict[str, Any]:
    data = dataclasses.asdict(finding)
    data.update(file=finding.file, line=finding.line)
    return data


# -- list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldView:
    """One field of an event: name, type, and default (None when required)."""

    name: str
    type: str
    required: bool
    default: str | None


@dataclass(frozen=True)
class ListenerView:
    """One listener of an event, as ``list`` shows it."""

    name: str
    short_name: str
    location: str
    style: str
    options: ListenerOptions


@dataclass(frozen=True)
class EventView:
    """One event with its fields and listeners, in registration order.

    ``partition_key`` is the field named by ``partition_key=``, None when it has none.
    """

    event_id: str
    class_name: str
    fields: tuple[FieldView, ...]
    listeners: tuple[ListenerView, ...]
    partition_key: str | None = None


def event_views(events: Sequence[type[Event]], routing: Routing) -> list[EventView]:
    """The facts ``list`` shows, one view per event."""
    views: list[EventView] = []
    for event_class in events:
        fields = tuple(
            FieldView(
                name,
                describe(info.annotation),
                info.is_required(),
                None if info.is_required() else _default_text(info),
            )
            for name, info in event_class.model_fields.items()
        )
        listeners = tuple(
            ListenerView(
                s.listener.name,
                _short_name(s.listener),
                _display_location(s.listener.location),
                s.style.value,
                s.listener.options,
            )
            for s in routing.subscriptions(event_class.event_id)
        )
        class_name = f"{event_class.__module__}.{event_class.__qualname__}"
        views.append(
            EventView(
                event_class.event_id,
                class_name,
                fields,
                listeners,
                event_class.event_partition_key,
            )
        )
    return views


def _default_text(info: Any) -> str:
    factory = info.default_factory
    if factory is not None:
        return f"{getattr(factory, '__name__', repr(factory))}()"
    return repr(info.default)


def _short_name(subscriber: Listener[..., Any]) -> str:
    qualname = getattr(subscriber.func, "__qualname__", None)
    if isinstance(qualname, str) and subscriber.name.endswith(qualname):
        return qualname
    return subscriber.name


def _display_location(location: str) -> str:
    path, _, line = location.rpartition(":")
    return f"{display_path(path)}:{line}" if path and line.isdigit() else location


def options_text(options: ListenerOptions) -> str:
    """The options that differ from the defaults, e.g. ``retries=3, ordered``; or ``-``."""
    default = ListenerOptions()
    parts: list[str] = []
    for option in dataclasses.fields(options):
        value = getattr(options, option.name)
        if value == getattr(default, option.name):
            continue
        parts.append(option.name if value is True else f"{option.name}={value}")
    return ", ".join(parts) or "-"


def render_list(views: Sequence[EventView], fmt: str) -> str:
    """``list``'s output in ``fmt``: ``plain``, ``json`` or ``mermaid``."""
    if fmt == "json":
        return json.dumps({"events": [_event_json(view) for view in views]}, indent=2)
    if fmt == "mermaid":
        return _mermaid(views)
    return _plain(views)


def _plain(views: Sequence[EventView]) -> str:
    blocks: list[str] = []
    for view in views:
        lines = [f"{view.event_id}  ({view.class_name})"]
        if view.partition_key is not None:
            lines.append(f"  partition key: {view.partition_key}")
        lines.append("  fields:")
        for f in view.fields:
            default = "" if f.required else f" = {f.default}"
            lines.append(f"    {f.name}: {f.type}{default}")
        if not view.fields:
            lines.append("    (none)")
        lines.append("  listeners:")
        rows = [(s.name, s.location, s.style, options_text(s.options)) for s in view.listeners]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            lines.append("    " + "  ".join([*cells, row[3]]))
        if not rows:
            lines.append("    (none)")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "(no events)"


def _event_json(view: EventView) -> dict[str, Any]:
    return {
        "id": view.event_id,
        "class": view.class_name,
        "partition_key": view.partition_key,
        "fields": [dataclasses.asdict(f) for f in view.fields],
        "listeners": [
            {
                "name": s.name,
                "location": s.location,
                "style": s.style,
                "options": to_jsonable_python(dataclasses.asdict(s.options)),
            }
            for s in view.listeners
        ],
    }


def _mermaid(views: Sequence[EventView]) -> str:
    lines = ["flowchart LR"]
    listener_ids: dict[str, str] = {}
    for index, view in enumerate(views):
        event_node = f"e{index}"
        label = _mermaid_label(view.event_id)
        if view.partition_key is not None:
            label += f"<br/>key: {_mermaid_label(view.partition_key)}"
        lines.append(f'    {event_node}(["{label}"])')
        for subscriber in view.listeners:
            node = listener_ids.get(subscriber.name)
            if node is None:
                node = listener_ids[subscriber.name] = f"l{len(listener_ids)}"
                lines.append(f'    {node}["{_mermaid_label(subscriber.short_name)}"]')
            lines.append(f"    {event_node} --> {node}")
    return "\n".join(lines)


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;")


def _event_cell(view: EventView) -> Any:
    from rich.text import Text

    if view.partition_key is None:
        return Text(view.event_id, style="bold")
    return Text.assemble((view.event_id, "bold"), (f"\nkey: {view.partition_key}", "dim"))


def render_table(views: Sequence[EventView], target: str) -> Any:
    """A rich Table of ``views`` (rich is imported here only: it is an optional extra)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Events of {target}", show_lines=False)
    # Narrow terminals fold long ids and paths rather than cutting them off.
    for column in ("Event", "Fields", "Listener", "Style, options"):
        table.add_column(column, overflow="fold")
    for view in views:
        fields = "\n".join(
            f"{f.name}: {f.type}" + ("" if f.required else f" = {f.default}") for f in view.fields
        )
        # Text cells, never markup strings: a type like list[str] is not a rich style.
        rows = [
            (
                Text.assemble(s.short_name, (f"\n{s.location}", "dim")),
                Text.assemble(s.style, (f"\n{options_text(s.options)}", "dim")),
            )
            for s in view.listeners
        ] or [(Text("(none)", style="dim"), Text(""))]
        for position, (subscriber, delivery) in enumerate(rows):
            first = position == 0
            table.add_row(
                _event_cell(view) if first else "",
                Text(fields) if first else "",
                subscriber,
                delivery,
                end_section=position == len(rows) - 1,
            )
    return table
