"""Event schemas for other services: JSON Schema per event, AsyncAPI 3.0, and diffs.

``typed-events schema APP`` writes :func:`event_schemas`; ``--format asyncapi`` writes
:func:`asyncapi_document`; ``typed-events schema diff OLD NEW`` prints
:func:`diff_schemas`. A change is *breaking* when a message valid under the old schema
may be rejected under the new one (a consumer upgraded first can no longer read what
producers still send): a field removed, a type narrowed, a new required field, an event
removed. Everything else (an optional field added, a type widened, an event added) is
*compatible*.

``typed-events schema lock APP -o events.lock.json`` writes :func:`lock_schemas` (each
event's schema per version) and ``typed-events schema check APP --lock events.lock.json
--mode MODE`` prints :func:`check_lock`: the gate CI runs before a deploy.
"""

from typed_events.errors import SchemaDocumentError
from typed_events.schema._diff import SchemaChange, diff_schemas, read_events
from typed_events.schema._generate import SCHEMA_FORMAT, asyncapi_document, event_schemas
from typed_events.schema._lock import (
    LOCK_FORMAT,
    CompatibilityMode,
    LockFinding,
    check_lock,
    lock_schemas,
)

__all__ = [
    "LOCK_FORMAT",
    "SCHEMA_FORMAT",
    "CompatibilityMode",
    "LockFinding",
    "SchemaChange",
    "SchemaDocumentError",
    "asyncapi_document",
    "check_lock",
    "diff_schemas",
    "event_schemas",
    "lock_schemas",
    "read_events",
]
