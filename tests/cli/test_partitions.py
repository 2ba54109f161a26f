"""``typed-events list`` shows each event's partition key, in every format."""

from __future__ import annotations

import json

from .conftest import run_cli


def test_plain_text_names_the_partition_key_under_the_event() -> None:
    result = run_cli("list", "partitioned_app:bus")

    assert (result.code, result.err) == (0, "")
    lines = result.out.splitlines()
    assert lines[:3] == [
        "order_placed  (partitioned_app.OrderPlaced)",
        "  partition key: order_id",
        "  fields:",
    ]
    keyless = lines.index("stock_counted  (partitioned_app.StockCounted)")
    assert lines[keyless + 1] == "  fields:"
    assert result.out.count("partition key:") == 1


def test_json_has_the_key_or_null() -> None:
    result = run_cli("list", "partitioned_app:bus", "--format", "json")

    assert result.code == 0
    keys = {e["id"]: e["partition_key"] for e in json.loads(result.out)["events"]}
    assert keys == {"order_placed": "order_id", "stock_counted": None}


def test_mermaid_and_the_table_show_the_key_beside_the_event() -> None:
    mermaid = run_cli("list", "partitioned_app:bus", "--format", "mermaid")
    table = run_cli("list", "partitioned_app:bus", "--format", "table")

    assert '    e0(["order_placed<br/>key: order_id"])' in mermaid.out.splitlines()
    assert '    e1(["stock_counted"])' in mermaid.out.splitlines()
    assert "│ order_placed  │" in table.out
    assert "│ key: order_id │" in table.out
    assert table.out.count("key:") == 1


def test_an_app_without_partition_keys_lists_as_before() -> None:
    result = run_cli("list", "clean_app:bus", "--format", "json")

    assert {e["partition_key"] for e in json.loads(result.out)["events"]} == {None}
    assert "partition key" not in run_cli("list", "clean_app:bus").out
