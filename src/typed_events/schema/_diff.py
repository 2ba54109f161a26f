"""Classify the changes between two schema documents, for ``typed-events schema diff``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from typed_events.schema._explain import field_change
from typed_events.schema._generate import VERSION_KEY
from typed_events.schema._subset import (
    JSONObject,
    SchemaDocumentError,
    SchemaNode,
    covers,
    properties,
    required,
)

__all__ = ["SchemaChange", "diff_schemas", "read_events"]


@dataclass(frozen=True)
class SchemaChange:
    """One difference between two versions of the event schemas.

    :param event_id: the event it concerns.
    :param breaking: True if old messages may no longer validate.
    :param message: what changed, e.g. ``field "email" removed``.
    :param field: the field concerned, if any.
    """

    event_id: str
    breaking: bool
    message: str
    field: str | None = None

    @property
    def kind(self) -> str:
        """``"breaking"`` or ``"compatible"``."""
        return "breaking" if self.breaking else "compatible"


def read_events(document: object, name: str = "document") -> dict[str, SchemaNode]:
    """The event schemas of a document :func:`event_schemas` or :func:`asyncapi_document` wrote.

    :raises SchemaDocumentError: naming what was expected.
    """
    events: dict[str, SchemaNode] | None = None
    if isinstance(document, dict):
        doc = cast(JSONObject, document)  # loaded from JSON: str keys
        try:
            if isinstance(doc.get("events"), dict):
                events = {
                    event_id: SchemaNode(schema, schema)
                    for event_id, schema in doc["events"].items()
                }
            elif "asyncapi" in doc:
                messages = doc.get("components", {}).get("messages", {})
                events = {
                    message.get("name", key): SchemaNode(message.get("payload", {}), doc)
                    for key, message in messages.items()
                }
        except (AttributeError, TypeError):  # a part that should be an object is not
            events = None
    if events is None:
        raise SchemaDocumentError(
            f"{name} is not an event schema document: expected the JSON that "
            "`typed-events schema APP` (or `--format asyncapi`) writes"
        )
    malformed = sorted(k for k, node in events.items() if not isinstance(node.node, dict | bool))
    if malformed:
        raise SchemaDocumentError(
            f"{name}: the schema of event(s) {', '.join(malformed)} is not a JSON Schema "
            "object; regenerate the document with `typed-events schema APP`"
        )
    return events


def diff_schemas(old: object, new: object) -> list[SchemaChange]:
    """Classify every change from ``old`` to ``new`` (documents, as loaded from JSON).

    :raises SchemaDocumentError: if either is not a schema document.
    """
    old_events, new_events = read_events(old, "OLD"), read_events(new, "NEW")
    changes: list[SchemaChange] = []
    for event_id in old_events.keys() - new_events.keys():
        changes.append(SchemaChange(event_id, True, "event removed"))
    for event_id in new_events.keys() - old_events.keys():
        changes.append(SchemaChange(event_id, False, "event added"))
    for event_id in old_events.keys() & new_events.keys():
        changes.extend(_diff_event(event_id, old_events[event_id], new_events[event_id]))
    return sorted(changes, key=lambda c: (c.event_id, not c.breaking, c.field or ""))


def _diff_event(event_id: str, old: SchemaNode, new: SchemaNode) -> list[SchemaChange]:
    old, new = old.resolve(), new.resolve()
    versions = [_version(node) for node in (old, new)]
    old_fields, new_fields = properties(old), properties(new)
    old_required, new_required = required(old), required(new)
    # An event's schema is an object; read_events does not check it (anything else fails here).
    closed = cast(JSONObject, new.node).get("additionalProperties") is False
    changes: list[SchemaChange] = []
    for name in old_fields.keys() - new_fields.keys():
        if closed:
            changes.append(SchemaChange(event_id, True, f'field "{name}" removed', name))
        else:  # the new schema still accepts the field as an extra one
            message = f'field "{name}" removed (extra fields are allowed)'
            changes.append(SchemaChange(event_id, False, message, name))
    for name in new_fields.keys() - old_fields.keys():
        if name in new_required:
            changes.append(SchemaChange(event_id, True, f'new required field "{name}"', name))
        else:
            changes.append(SchemaChange(event_id, False, f'optional field "{name}" added', name))
    for name in old_fields.keys() & new_fields.keys():
        if name in new_required and name not in old_required:
            changes.append(SchemaChange(event_id, True, f'field "{name}" became required', name))
        elif name in old_required and name not in new_required:
            changes.append(SchemaChange(event_id, False, f'field "{name}" became optional', name))
        changes.extend(_diff_type(event_id, name, old_fields[name], new_fields[name]))
    if versions[0] != versions[1]:
        message = f"version {versions[0]} -> {versions[1]}"
        changes.append(SchemaChange(event_id, versions[1] < versions[0], message))
    return changes


def _version(schema: SchemaNode) -> int:
    value = schema.node.get(VERSION_KEY, 1) if isinstance(schema.node, dict) else 1
    return value if isinstance(value, int) else 1


def _diff_type(event_id: str, name: str, old: SchemaNode, new: SchemaNode) -> list[SchemaChange]:
    widened, narrowed = covers(new, old), covers(old, new)
    if widened and narrowed:
        return []
    # Widened: say what old readers would refuse; otherwise what new readers refuse.
    message = field_change(name, old, new, reader_is_new=not widened)
    return [SchemaChange(event_id, not widened, message, name)]
