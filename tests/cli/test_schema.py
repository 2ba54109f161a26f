"""``typed-events schema APP``: JSON Schema per event, and AsyncAPI 3.0 checked by a validator."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no types-jsonschema in dev deps
import pytest

from .conftest import run_cli

ASYNCAPI_SCHEMA = json.loads(
    (Path(__file__).parent / "schemas" / "asyncapi-3.0.0.json").read_text(encoding="utf-8")
)


def _schema(*args: str) -> dict[str, Any]:
    result = run_cli("schema", *args)
    assert (result.code, result.err) == (0, ""), result
    document: dict[str, Any] = json.loads(result.out)
    return document


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_json_schema_per_event_validates_real_payloads() -> None:
    document = _schema("clean_app:bus")

    assert document["format"] == "typed-events/schemas/v1"
    assert list(document["events"]) == ["user_created", "password_changed"]
    validator = jsonschema.Draft202012Validator(document["events"]["user_created"])
    assert validator.is_valid({"email": "a@example.com"})
    assert validator.is_valid({"email": "a@example.com", "name": "Ann"})
    assert not validator.is_valid({"email": 1})
    assert not validator.is_valid({"name": "no email"})
    assert not validator.is_valid({"email": "a@example.com", "emial": "typo"})


def test_nested_models_stay_inside_each_events_schema() -> None:
    moved = _schema("rich_types:bus")["events"]["crm:customer.moved"]

    assert moved["x-typed-events-class"] == "rich_types.CustomerMoved"
    validator = jsonschema.Draft202012Validator(moved)
    payload = {
        "customer_id": 7,
        "new": {"street": "Main 1", "city": "Delft"},
        "at": "2026-01-02T03:04:05Z",
    }
    assert validator.is_valid(payload)
    assert not validator.is_valid({**payload, "new": {"street": "Main 1"}})
    assert not validator.is_valid({**payload, "customer_id": 0})


@pytest.mark.parametrize("app", ["clean_app:bus", "rich_types:bus", "unhandled:bus"])
def test_asyncapi_is_valid_against_the_official_schema(app: str) -> None:
    document = _schema(app, "--format", "asyncapi")

    jsonschema.Draft7Validator(ASYNCAPI_SCHEMA).validate(document)
    for ref in _refs(document):
        assert _resolve(document, ref) is not None, ref


def test_the_validator_catches_a_broken_document() -> None:
    # Guards the test above: the vendored schema really rejects AsyncAPI 2-style documents.
    document = _schema("clean_app:bus", "--format", "asyncapi")
    broken = copy.deepcopy(document)
    broken["operations"]["receive_user_created"]["action"] = "publish"
    errors = list(jsonschema.Draft7Validator(ASYNCAPI_SCHEMA).iter_errors(broken))
    assert errors


def test_asyncapi_has_one_channel_and_message_per_event() -> None:
    document = _schema(
        "rich_types:bus", "--format", "asyncapi", "--title", "CRM", "--api-version", "2.1.0"
    )

    assert document["info"] == {"title": "CRM", "version": "2.1.0"}
    channels = document["channels"]
    assert {c["address"] for c in channels.values()} == {"crm:customer.moved", "crm:plan.changed"}
    messages = document["components"]["messages"]
    assert {m["name"] for m in messages.values()} == {"crm:customer.moved", "crm:plan.changed"}
    assert list(document["operations"]) == ["receive_crm_customer.moved"]
    assert document["operations"]["receive_crm_customer.moved"]["summary"] == (
        "handled by rich_types.update_shipping"
    )
    schemas = document["components"]["schemas"]
    assert {"Address", "CustomerMoved", "PlanChanged", "Plan"} <= set(schemas)


def test_asyncapi_payloads_validate_messages() -> None:
    document = _schema("rich_types:bus", "--format", "asyncapi")
    payload_ref = document["components"]["messages"]["crm_plan.changed"]["payload"]["$ref"]
    # The whole document is the root, so the payload's $refs to components resolve.
    validator = jsonschema.Draft202012Validator({**document, "$ref": payload_ref})
    assert validator.is_valid({"customer_id": 1, "plan": "pro"})
    assert not validator.is_valid({"customer_id": 1, "plan": "gold"})


def test_output_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "events.json"
    result = run_cli("schema", "clean_app:bus", "--output", str(target))
    assert (result.code, result.out, result.err) == (0, "", "")
    assert set(json.loads(target.read_text())["events"]) == {"user_created", "password_changed"}


def test_schema_of_an_app_that_cannot_be_built() -> None:
    result = run_cli("schema", "seed_bus:bus")
    assert (result.code, result.out) == (1, "")
    assert "could not be wired" in result.err
