"""The schema lock: every event's JSON Schema per version, and the gate CI runs against it.

``typed-events schema lock APP -o events.lock.json`` writes :func:`lock_schemas` (the team
commits the file); ``typed-events schema check APP --lock events.lock.json --mode MODE``
prints :func:`check_lock`: the changes since the lock that break ``MODE`` without a
version bump and an upcaster, each with the fix.

Events forbid extra fields (a closed content model), so their schemas say
``"additionalProperties": false`` and both directions matter:

- *backward*: the new code reads what the locked schema allowed (consumers deploy
  first). Removing a field breaks it (old events still carry it), so does a new required
  field or a narrowed type; a new optional field does not.
- *forward*: the locked schema reads what the new code writes (producers deploy first).
  *Adding* any field breaks it (old consumers refuse the extra field), so does removing a
  required field or widening a type.
- *full*: both. The ``-transitive`` forms hold every version in the lock to the rule, not
  only the latest: a version still locked must still be readable (not below
  ``min_version``).

A version bump with a complete upcaster chain is always allowed: consumers upcast older
versions; an older consumer dead-letters a newer version (reason ``"unknown version"``)
instead of half-parsing it, so deploy consumers before producers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from typed_events._upcasting import chain_problems, where_defined
from typed_events.errors import SchemaDocumentError
from typed_events.events import Event
from typed_events.schema._explain import field_change
from typed_events.schema._generate import event_schema
from typed_events.schema._subset import JSONObject, SchemaNode, covers, properties, required

__all__ = ["LOCK_FORMAT", "CompatibilityMode", "LockFinding", "check_lock", "lock_schemas"]

LOCK_FORMAT = "typed-events/lock/v1"
"""The ``format`` marker of the document :func:`lock_schemas` writes."""


class CompatibilityMode(StrEnum):
    """Which readers must keep reading what writers send, as Kafka's schema registry names it."""

    BACKWARD = "backward"
    BACKWARD_TRANSITIVE = "backward-transitive"
    FORWARD = "forward"
    FORWARD_TRANSITIVE = "forward-transitive"
    FULL = "full"
    FULL_TRANSITIVE = "full-transitive"

    @property
    def backward(self) -> bool:
        """New code must read what was written under the lock."""
        return not self.value.startswith("forward")

    @property
    def forward(self) -> bool:
        """Code on the lock must read what the new code writes."""
        return not self.value.startswith("backward")

    @property
    def transitive(self) -> bool:
        """Every version in the lock counts, not only the latest."""
        return self.value.endswith("-transitive")


@dataclass(frozen=True)
class LockFinding:
    """One line of ``schema check``: a breaking change (exit 1) or a note.

    :ivar direction: ``"backward"`` or ``"forward"`` for a schema change, else None.
    :ivar location: ``file:line`` of the event class, when known.
    """

    event_id: str
    breaking: bool
    message: str
    fix: str = ""
    version: int | None = None
    field: str | None = None
    direction: str | None = None
    location: str = ""


def lock_schemas(events: Iterable[type[Event]], previous: object = None) -> JSONObject:
    """The lock document: each event's schema at its current version, keyed by id.

    :param previous: the lock as it was (loaded from JSON), whose schemas of older
        versions are kept while the class still reads them (``>= min_version``).
    :raises SchemaDocumentError: if ``previous`` is not a lock document.
    """
    old = read_lock(previous) if previous is not None else {}
    locked: JSONObject = {}
    for event in sorted(events, key=lambda cls: cls.event_id):
        current, oldest = event.event_version, event.event_min_version
        kept = {v: s for v, s in old.get(event.event_id, {}).items() if oldest <= v < current}
        kept[current] = event_schema(event)
        locked[event.event_id] = {
            "class": f"{event.__module__}.{event.__qualname__}",
            "version": current,
            "min_version": oldest,
            "schemas": {str(v): kept[v] for v in sorted(kept)},
        }
    return {"format": LOCK_FORMAT, "events": locked}


def read_lock(document: object, name: str = "the lock file") -> dict[str, dict[int, JSONObject]]:
    """The schemas of a lock document, by event id and version.

    :raises SchemaDocumentError: naming what is wrong.
    """
    expected = f"expected the JSON `typed-events schema lock` writes (format {LOCK_FORMAT!r})"
    if not isinstance(document, dict) or cast(JSONObject, document).get("format") != LOCK_FORMAT:
        raise SchemaDocumentError(f"{name} is not a schema lock: {expected}")
    events = cast(JSONObject, document).get("events")
    if not isinstance(events, dict):
        raise SchemaDocumentError(f"{name} has no 'events' object: {expected}")
    result: dict[str, dict[int, JSONObject]] = {}
    for event_id, entry in cast(JSONObject, events).items():
        schemas: object = (
            cast(JSONObject, entry).get("schemas") if isinstance(entry, dict) else None
        )
        if not isinstance(schemas, dict) or not all(
            isinstance(k, str) and k.isdigit() and isinstance(v, dict)
            for k, v in cast(JSONObject, schemas).items()
        ):
            raise SchemaDocumentError(
                f"{name}: event {event_id!r} needs 'schemas', an object of JSON Schemas by "
                f"version number; regenerate it with `typed-events schema lock`"
            )
        result[event_id] = {int(k): v for k, v in cast(JSONObject, schemas).items()}
    return result


def check_lock(
    lock: object, events: Iterable[type[Event]], mode: CompatibilityMode | str
) -> list[LockFinding]:
    """Every change from ``lock`` to ``events`` that breaks ``mode``, and notes.

    :raises SchemaDocumentError: if ``lock`` is not a lock document.
    :raises ValueError: for an unknown mode.
    """
    mode = CompatibilityMode(mode)
    locked = read_lock(lock)
    findings: list[LockFinding] = []
    classes = {event.event_id: event for event in events}
    for event_id in sorted(locked.keys() - classes.keys()):
        findings.append(
            LockFinding(
                event_id,
                mode.backward,
                "event removed, but it is in the lock: events still in a stream would be "
                "dead-lettered (unknown type)",
                "keep the class in the app until no producer sends it and no such event is "
                "left, then run `typed-events schema lock` to drop it",
            )
        )
    for event_id, event in sorted(classes.items()):
        findings += _check_event(event, locked.get(event_id), mode)
    return findings


def _check_event(
    event: type[Event], locked: dict[int, JSONObject] | None, mode: CompatibilityMode
) -> list[LockFinding]:
    where = where_defined(event)
    current, oldest, name = event.event_version, event.event_min_version, event.__name__
    findings = [
        LockFinding(event.event_id, True, p.message, p.fix, p.version, location=p.location or where)
        for p in chain_problems(event)
    ]
    if not locked:
        note = f"version {current} is not in the lock yet"
        fix = "run `typed-events schema lock` and commit the lock file"
        return [*findings, LockFinding(event.event_id, False, note, fix, current, location=where)]
    latest = max(locked)
    if latest > current:
        message = f"version {current} is older than version {latest} in the lock"
        fix = f"versions only go up: set {name}'s version= to {latest} or more"
        return [*findings, LockFinding(event.event_id, True, message, fix, current, location=where)]
    schema = event_schema(event)
    for version in sorted(locked) if mode.transitive else [latest]:
        if version == current:
            findings += _same_version(event, locked[version], schema, mode, where)
        elif version < oldest and mode.backward:
            findings.append(
                LockFinding(
                    event.event_id,
                    True,
                    f"version {version} is in the lock, but {name} reads from version "
                    f"{oldest} (min_version={oldest}): version-{version} events still in a "
                    "stream would be dead-lettered",
                    f"keep the upcaster from version {version} (min_version={version}) "
                    f"until no version-{version} event is left; then run `typed-events "
                    f"schema lock` to retire version {version}",
                    version,
                    location=where,
                )
            )
    if latest < current:
        notes = [f"version {latest} -> {current}: older events are upcast"]
        if mode.forward:
            notes.append(
                f"consumers still at version {latest} dead-letter version {current} events "
                "(unknown version): deploy consumers before producers, and replay the dead "
                "letters after"
            )
        fix = f"run `typed-events schema lock` to record version {current}"
        findings.append(
            LockFinding(event.event_id, False, "; ".join(notes), fix, current, location=where)
        )
    elif locked[latest] != schema and not any(f.breaking for f in findings):
        fix = "run `typed-events schema lock` and commit the lock file"
        note = f"version {current} changed compatibly since the lock"
        findings.append(LockFinding(event.event_id, False, note, fix, current, location=where))
    return findings


def _same_version(
    event: type[Event],
    locked: JSONObject,
    schema: JSONObject,
    mode: CompatibilityMode,
    where: str,
) -> list[LockFinding]:
    old, new = SchemaNode(locked, locked), SchemaNode(schema, schema)
    current, name = event.event_version, event.__name__
    bump = (
        f"bump to version {current + 1} (class {name}(Event, version={current + 1})) and add "
        f"an upcaster from {current} (@upcaster({name}, from_version={current}))"
    )
    findings: list[LockFinding] = []
    directions = [("backward", True)] * mode.backward + [("forward", False)] * mode.forward
    for direction, reader_is_new in directions:
        for field, message, needs_default in _refusals(old, new, reader_is_new):
            fix = f"give the new field a default, or {bump}" if needs_default else bump
            findings.append(
                LockFinding(event.event_id, True, message, fix, current, field, direction, where)
            )
    return findings


def _refusals(
    old: SchemaNode, new: SchemaNode, reader_is_new: bool
) -> list[tuple[str | None, str, bool]]:
    """(field, message, a default would fix it) for what the reader refuses of the writer."""
    reader, writer = (new, old) if reader_is_new else (old, new)
    if covers(reader, writer):
        return []
    who = (
        "this code refuses events written under the lock"
        if reader_is_new
        else "consumers on the lock refuse events this code writes"
    )
    reader_fields, writer_fields = properties(reader), properties(writer)
    reader_required, writer_required = required(reader), required(writer)
    closed = isinstance(reader.node, dict) and reader.node.get("additionalProperties") is False
    found: list[tuple[str | None, str, bool]] = []
    for field in sorted(writer_fields.keys() - reader_fields.keys()) if closed else []:
        verb = "removed" if reader_is_new else "added"
        found.append((field, f'field "{field}" {verb}: {who} (extra fields are forbidden)', False))
    for field in sorted(reader_required - writer_fields.keys()):
        text = f'new required field "{field}"' if reader_is_new else f'field "{field}" removed'
        found.append((field, f"{text}: {who}", reader_is_new))
    for field in sorted(reader_fields.keys() & writer_fields.keys()):
        if field in reader_required and field not in writer_required:
            became = "required" if reader_is_new else "optional"
            found.append((field, f'field "{field}" became {became}: {who}', reader_is_new))
        if not covers(reader_fields[field], writer_fields[field]):
            old_field, new_field = properties(old)[field], properties(new)[field]
            text = field_change(field, old_field, new_field, reader_is_new=reader_is_new)
            found.append((field, f"{text}: {who}", False))
    return found or [(None, f"the schema changed: {who}", False)]
