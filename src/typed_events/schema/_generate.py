"""JSON Schema per event and AsyncAPI 3.0 documents, as ``typed-events schema`` writes them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from pydantic.json_schema import models_json_schema

from typed_events.events import Event
from typed_events.schema._subset import JSONObject

__all__ = [
    "PARTITION_KEY_KEY",
    "SCHEMA_FORMAT",
    "VERSION_KEY",
    "asyncapi_document",
    "event_schemas",
    "event_schema",
]

SCHEMA_FORMAT = "typed-events/schemas/v1"
"""The ``format`` marker of the document :func:`event_schemas` writes."""

_CLASS_KEY = "x-typed-events-class"
VERSION_KEY = "x-typed-events-version"
"""The schema (and AsyncAPI message) keyword that holds the event's ``version=``."""
PARTITION_KEY_KEY = "x-typed-events-partition-key"
"""The schema keyword that holds the event's ``partition_key=`` (only when it has one)."""
_COMPONENT_KEY = re.compile(r"[^\w.\-]")


def event_schemas(events: Iterable[type[Event]]) -> JSONObject:
    """One document with each event's JSON Schema keyed by its id.

    Each schema stands alone (its nested models are in its own ``$defs``), so a consumer
    can validate a payload with ``document["events"][event_id]``. It says
    ``"additionalProperties": false`` (events forbid extra fields) and carries the
    event's version under ``x-typed-events-version``.
    """
    schemas: JSONObject = {
        event_class.event_id: event_schema(event_class) for event_class in events
    }
    return {"format": SCHEMA_FORMAT, "events": schemas}


def event_schema(event_class: type[Event]) -> JSONObject:
    """One event's JSON Schema, with its class, version and partition key as ``x-`` keywords."""
    schema = event_class.model_json_schema()
    schema[_CLASS_KEY] = f"{event_class.__module__}.{event_class.__qualname__}"
    schema[VERSION_KEY] = event_class.event_version
    if event_class.event_partition_key is not None:
        schema[PARTITION_KEY_KEY] = event_class.event_partition_key
    return schema


def asyncapi_document(
    events: Sequence[type[Event]],
    listeners: Mapping[str, Sequence[str]] | None = None,
    *,
    title: str,
    version: str = "0.1.0",
) -> JSONObject:
    """An AsyncAPI 3.0 document: one channel (address: the event id) and message per event.

    Each message carries the event's version under ``x-typed-events-version``.

    :param events: the event classes, in the order to list them.
    :param listeners: listener names by event id; each event with listeners gets a
        ``receive`` operation naming them.
    :param title: ``info.title``.
    :param version: ``info.version``, the version of your app's event API.
    """
    listeners = listeners or {}
    refs, definitions = models_json_schema(
        [(event_class, "validation") for event_class in events],
        ref_template="#/components/schemas/{model}",
    )
    channels: JSONObject = {}
    messages: JSONObject = {}
    operations: JSONObject = {}
    for event_class in events:
        key = _COMPONENT_KEY.sub("_", event_class.event_id)
        message: JSONObject = {
            "name": event_class.event_id,
            "title": event_class.__qualname__,
            "contentType": "application/json",
            "payload": refs[(event_class, "validation")],
            VERSION_KEY: event_class.event_version,
        }
        if event_class.__doc__:
            message["summary"] = event_class.__doc__.strip().splitlines()[0]
        messages[key] = message
        channels[key] = {
            "address": event_class.event_id,
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        names = listeners.get(event_class.event_id, ())
        if names:
            operations[f"receive_{key}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{key}"},
                "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
                "summary": "handled by " + ", ".join(names),
            }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": version},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": definitions.get("$defs", {})},
    }
