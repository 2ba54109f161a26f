"""The version in JSON Schema and AsyncAPI output, and in ``schema diff``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in dev deps

from typed_events import Event
from typed_events.schema import asyncapi_document, diff_schemas, event_schemas

ASYNCAPI_SCHEMA = json.loads(
    (Path(__file__).parents[1] / "cli" / "schemas" / "asyncapi-3.0.0.json").read_text("utf-8")
)
ID = "schema_versions_user"


class UserV1(Event, event_id=ID):
    name: str


class UserV2(Event, event_id=ID, version=2):
    name: str
    nickname: str | None = None


def _json(document: dict[str, Any]) -> Any:
    return json.loads(json.dumps(document))


def test_json_schema_carries_the_version_and_forbids_extra_fields() -> None:
    v1, v2 = (event_schemas([cls])["events"][ID] for cls in (UserV1, UserV2))
    assert (v1["x-typed-events-version"], v2["x-typed-events-version"]) == (1, 2)
    assert v2["additionalProperties"] is False
    validator = jsonschema.Draft202012Validator(v2)
    assert validator.is_valid({"name": "Ann"})
    assert not validator.is_valid({"name": "Ann", "nick": "typo"})


def test_asyncapi_messages_carry_the_version_and_stay_valid() -> None:
    document = _json(asyncapi_document([UserV2], title="users"))
    assert document["components"]["messages"][ID]["x-typed-events-version"] == 2
    jsonschema.Draft7Validator(ASYNCAPI_SCHEMA).validate(document)


def test_schema_diff_reports_a_version_bump_as_compatible_and_a_downgrade_as_breaking() -> None:
    old, new = _json(event_schemas([UserV1])), _json(event_schemas([UserV2]))
    assert [(c.kind, c.message) for c in diff_schemas(old, new)] == [
        ("compatible", "version 1 -> 2"),
        ("compatible", 'optional field "nickname" added'),
    ]
    assert ("breaking", "version 2 -> 1") in [(c.kind, c.message) for c in diff_schemas(new, old)]
