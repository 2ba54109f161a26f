"""Why one schema refuses what another accepts, said field by field, inside nested models.

``schema diff`` and ``schema check`` know from :func:`~typed_events.schema._subset.covers`
*that* a change narrows a type; :func:`explain` says *what* changed inside it, so a
message reads ``Address -> Address (field "zip" became required)`` instead of
``Address -> Address``.
"""

from __future__ import annotations

from typed_events.schema._subset import (
    JSONObject,
    SchemaNode,
    covers,
    describe_schema,
    properties,
    required,
)

__all__ = ["explain", "field_change"]

_DEPTH = 6  # deeper than any message anyone reads


def explain(old: SchemaNode, new: SchemaNode, *, reader_is_new: bool = True) -> list[str]:
    """What, inside ``old -> new``, makes the reader refuse values the writer accepts.

    With ``reader_is_new`` (the default) the reader is ``new`` and the writer ``old``:
    the reasons a consumer on the new schema refuses old messages. Otherwise the
    reverse: the reasons a consumer on the old schema refuses new messages. An empty
    list means nothing more precise than the two types' names can be said.
    """
    return _explain(old, new, reader_is_new, _DEPTH)


def field_change(name: str, old: SchemaNode, new: SchemaNode, *, reader_is_new: bool) -> str:
    """``field "x" narrowed: A -> A (field "zip" became required)``, or widened, or changed."""
    widened, narrowed = covers(new, old), covers(old, new)
    verb = "widened" if widened else "narrowed" if narrowed else "changed type"
    text = f'field "{name}" {verb}: {describe_schema(old)} -> {describe_schema(new)}'
    reasons = explain(old, new, reader_is_new=reader_is_new)
    return f"{text} ({'; '.join(reasons)})" if reasons else text


def _explain(old: SchemaNode, new: SchemaNode, reader_is_new: bool, depth: int) -> list[str]:
    old, new = old.resolve(), new.resolve()
    reader, writer = (new, old) if reader_is_new else (old, new)
    if depth == 0 or covers(reader, writer):
        return []
    r, w = reader.node, writer.node
    if not isinstance(r, dict) or not isinstance(w, dict):
        return []
    for key in ("anyOf", "oneOf"):
        if key in r or key in w:
            return _explain_union(old, new, key, reader_is_new, depth)
    if _values(w) is not None:
        return _explain_values(r, _values(w) or [], reader_is_new)
    if "properties" in r or "properties" in w:
        return _explain_object(old, new, reader, writer, reader_is_new, depth)
    for key in ("items", "additionalProperties"):
        old_part, new_part = old.get(key), new.get(key)
        if isinstance(old_part, SchemaNode) and isinstance(new_part, SchemaNode):
            inner = "; ".join(_explain(old_part, new_part, reader_is_new, depth - 1))
            was, now = describe_schema(old_part), describe_schema(new_part)
            if key == "items":  # array[A] -> array[B] already names the item types
                return [f"items: {inner}"] if inner else []
            change = f"values: {was} -> {now}"
            return [f"{change} ({inner})" if inner else change]
    return []


def _values(node: JSONObject) -> list[object] | None:
    if "enum" in node:
        values: list[object] = list(node["enum"])
        return values
    return [node["const"]] if "const" in node else None


def _explain_values(reader: JSONObject, written: list[object], reader_is_new: bool) -> list[str]:
    accepted = _values(reader)
    if accepted is None:
        return []
    verb = "removed" if reader_is_new else "added"
    return [f"{value!r} {verb}" for value in written if value not in accepted]


def _explain_union(
    old: SchemaNode, new: SchemaNode, key: str, reader_is_new: bool, depth: int
) -> list[str]:
    # Pair each branch of one side with the branch of the other that it is closest to
    # (same name, or same JSON type): Optional[Address] is anyOf [Address, null].
    old_branches, new_branches = _branches(old, key), _branches(new, key)
    reasons: list[str] = []
    for o in old_branches:
        match = next((n for n in new_branches if _same_kind(o, n)), None)
        if match is not None:
            reasons += _explain(o, match, reader_is_new, depth - 1)
    return reasons


def _branches(schema: SchemaNode, key: str) -> list[SchemaNode]:
    node = schema.node
    if isinstance(node, dict) and isinstance(node.get(key), list):
        return [SchemaNode(branch, schema.root) for branch in node[key]]
    return [schema]


def _same_kind(a: SchemaNode, b: SchemaNode) -> bool:
    if describe_schema(a) == describe_schema(b):
        return True
    a, b = a.resolve(), b.resolve()
    kinds = [node.get("type") if isinstance(node, dict) else None for node in (a.node, b.node)]
    return kinds[0] is not None and kinds[0] == kinds[1]


def _explain_object(
    old: SchemaNode,
    new: SchemaNode,
    reader: SchemaNode,
    writer: SchemaNode,
    reader_is_new: bool,
    depth: int,
) -> list[str]:
    reader_fields, writer_fields = properties(reader), properties(writer)
    reader_required, writer_required = required(reader), required(writer)
    closed = isinstance(reader.node, dict) and reader.node.get("additionalProperties") is False
    reasons: list[str] = []
    for name in sorted(writer_fields.keys() - reader_fields.keys()):
        if closed:
            reasons.append(f'field "{name}" {"removed" if reader_is_new else "added"}')
    for name in sorted(reader_required - writer_fields.keys()):
        reasons.append(
            f'new required field "{name}"' if reader_is_new else f'required field "{name}" removed'
        )
    for name in sorted(reader_fields.keys() & writer_fields.keys()):
        if name in reader_required and name not in writer_required:
            became = "required" if reader_is_new else "optional"
            reasons.append(f'field "{name}" became {became}')
        old_field, new_field = properties(old)[name], properties(new)[name]
        reader_field = new_field if reader_is_new else old_field
        writer_field = old_field if reader_is_new else new_field
        if not covers(reader_field, writer_field):
            text = f'field "{name}": {describe_schema(old_field)} -> {describe_schema(new_field)}'
            inner = _explain(old_field, new_field, reader_is_new, depth - 1)
            reasons.append(f"{text} ({'; '.join(inner)})" if inner else text)
    return reasons
