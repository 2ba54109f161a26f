"""Does one JSON Schema accept every value another accepts? For ``schema diff``.

:func:`covers` answers for the JSON Schemas Pydantic writes (types, unions, ``$ref`` to
nested models, literals and enums, arrays, objects, constraints), and answers False
when unsure, so a diff never hides a breaking change. It is to JSON Schemas what
:mod:`typed_events._typecompat` is to annotations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from typed_events.errors import SchemaDocumentError

__all__ = [
    "JSONObject",
    "JSONValue",
    "SchemaDocumentError",
    "SchemaNode",
    "covers",
    "describe_schema",
    "properties",
    "required",
]

JSONObject = dict[str, Any]
"""A JSON object as :func:`json.load` returns it; its values are arbitrary JSON."""
JSONValue = JSONObject | list[Any] | str | int | float | bool | None
"""Any value :func:`json.load` returns: a schema fragment, or a whole document."""


@dataclass(frozen=True)
class SchemaNode:
    """A schema fragment with the document its ``$ref`` pointers resolve in.

    :param node: the fragment (a dict, or ``True``/``False``).
    :param root: the whole document: an event's schema, or an AsyncAPI document.
    """

    node: JSONValue
    root: JSONValue

    def resolve(self) -> SchemaNode:
        """Follow ``$ref`` until a fragment that is not a reference.

        :raises SchemaDocumentError: for a reference outside the document or to nothing.
        """
        node, seen = self.node, 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 50:
            node, seen = _pointer(self.root, node["$ref"]), seen + 1
        return SchemaNode(node, self.root)

    def get(self, key: str) -> SchemaNode | None:
        """The sub-schema under ``key``, if the fragment has one."""
        value = self.node.get(key) if isinstance(self.node, dict) else None
        return None if value is None else SchemaNode(value, self.root)


def _pointer(root: JSONValue, ref: str) -> JSONValue:
    # Only pointers inside the document: a schema diff must not fetch anything.
    if not ref.startswith("#"):
        raise SchemaDocumentError(f"external $ref {ref!r} is not supported")
    node: JSONValue = root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SchemaDocumentError(f"$ref {ref!r} points at nothing")
        node = node[part]
    return node


def properties(schema: SchemaNode) -> dict[str, SchemaNode]:
    """The ``properties`` of an object schema, by name."""
    properties: JSONObject = (
        schema.node.get("properties", {}) if isinstance(schema.node, dict) else {}
    )
    return {name: SchemaNode(value, schema.root) for name, value in properties.items()}


def required(schema: SchemaNode) -> set[str]:
    """The names an object schema requires."""
    return set(schema.node.get("required", ())) if isinstance(schema.node, dict) else set()


def describe_schema(schema: SchemaNode) -> str:
    """A short spelling of a schema fragment: ``string``, ``integer | null``, ``Address``."""
    node = schema.node
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        return str(node["$ref"]).rsplit("/", 1)[-1]
    schema = schema.resolve()
    node = schema.node
    if not isinstance(node, dict) or not node:
        return "any"
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " | ".join(describe_schema(SchemaNode(b, schema.root)) for b in node[key])
    if "const" in node:
        return repr(node["const"])
    if "enum" in node:
        return " | ".join(repr(value) for value in node["enum"])
    kinds: JSONValue = node.get("type", "any")
    text = " | ".join(kinds) if isinstance(kinds, list) else str(kinds)
    items = schema.get("items")
    if text == "array" and items is not None:
        text = f"array[{describe_schema(items)}]"
    bounds = [f"{k}={node[k]}" for k in sorted(node) if k in _BOUNDS or k in _EQUAL]
    return f"{text} ({', '.join(bounds)})" if bounds else text


# -- "does every value valid under `narrow` also validate under `wide`?" ---------------

_ANNOTATIONS = {
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "$comment",
    "readOnly",
    "writeOnly",
    "discriminator",
    "$defs",
    "definitions",
}


def _keywords(node: JSONObject) -> set[str]:
    """The keywords of ``node`` that constrain values (not annotations, not ``x-`` extensions)."""
    return {key for key in node if key not in _ANNOTATIONS and not key.startswith("x-")}


_LOWER = {"minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum"}
_UPPER = {"maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum"}
_BOUNDS = _LOWER | _UPPER
_EQUAL = {"pattern", "format", "multipleOf", "uniqueItems"}
_STRUCTURE = {"type", "items", "prefixItems", "properties", "required", "additionalProperties"}
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "array": (list,),
    "object": (dict,),
}


def covers(
    wide: SchemaNode, narrow: SchemaNode, _assumed: set[tuple[int, int]] | None = None
) -> bool:
    """True if every value ``narrow`` accepts, ``wide`` accepts too; False when unsure.

    Unsure answers count as breaking: a diff must not hide a break.
    """
    wide, narrow = wide.resolve(), narrow.resolve()
    assumed: set[tuple[int, int]] = _assumed if _assumed is not None else set()
    pair = (id(wide.node), id(narrow.node))
    if pair in assumed:  # a recursive model: assume what is being proved on this path
        return True
    assumed.add(pair)
    try:
        return _covers(wide, narrow, assumed)
    finally:
        assumed.discard(pair)


def _covers(wide: SchemaNode, narrow: SchemaNode, assumed: set[tuple[int, int]]) -> bool:
    w, n = wide.node, narrow.node
    if w is True or (isinstance(w, dict) and not (_keywords(w))):
        return True
    if n is False:
        return True
    if not isinstance(w, dict) or not isinstance(n, dict):
        return False
    for key in ("anyOf", "oneOf"):
        if key in n:
            return all(covers(wide, SchemaNode(b, narrow.root), assumed) for b in n[key])
    if "allOf" in n:
        return any(covers(wide, SchemaNode(b, narrow.root), assumed) for b in n["allOf"])
    if "allOf" in w:
        return all(covers(SchemaNode(b, wide.root), narrow, assumed) for b in w["allOf"])
    for key in ("anyOf", "oneOf"):
        if key in w:
            if _keywords(w) - {key}:
                return False
            return any(covers(SchemaNode(b, wide.root), narrow, assumed) for b in w[key])
    if "const" in n or "enum" in n:
        values = n["enum"] if "enum" in n else [n["const"]]
        return all(_accepts_value(w, value) for value in values)
    if "const" in w or "enum" in w:
        return False
    if _keywords(w) - _BOUNDS - _EQUAL - _STRUCTURE:
        return False  # a keyword this check does not know: unsure
    return (
        _types_cover(w, n)
        and _bounds_cover(w, n)
        and _items_cover(wide, narrow, assumed)
        and _objects_cover(wide, narrow, assumed)
    )


def _types_cover(w: JSONObject, n: JSONObject) -> bool:
    wide_types, narrow_types = _types(w), _types(n)
    if wide_types is None:
        return True
    if narrow_types is None:
        return False
    return all(t in wide_types or (t == "integer" and "number" in wide_types) for t in narrow_types)


def _types(node: JSONObject) -> set[str] | None:
    kinds = node.get("type")
    if kinds is None:
        return None
    # JSON Schema's "type" is a type name or a list of them.
    return set(cast("list[str]", kinds)) if isinstance(kinds, list) else {kinds}


def _bounds_cover(w: JSONObject, n: JSONObject) -> bool:
    for key in w.keys() & (_BOUNDS | _EQUAL):
        if key not in n:
            return False
        if key in _LOWER and not n[key] >= w[key]:
            return False
        if key in _UPPER and not n[key] <= w[key]:
            return False
        if key in _EQUAL and n[key] != w[key]:
            return False
    return True


def _items_cover(wide: SchemaNode, narrow: SchemaNode, assumed: set[tuple[int, int]]) -> bool:
    w, n = cast(JSONObject, wide.node), cast(JSONObject, narrow.node)  # dicts: _covers checked
    if "prefixItems" in w or "prefixItems" in n:
        wide_items, narrow_items = w.get("prefixItems", []), n.get("prefixItems", [])
        if len(wide_items) != len(narrow_items):
            return False
        if not all(
            covers(SchemaNode(a, wide.root), SchemaNode(b, narrow.root), assumed)
            for a, b in zip(wide_items, narrow_items, strict=True)
        ):
            return False
    if "items" not in w:
        return True
    if "items" not in n:
        return False
    return covers(SchemaNode(w["items"], wide.root), SchemaNode(n["items"], narrow.root), assumed)


def _objects_cover(wide: SchemaNode, narrow: SchemaNode, assumed: set[tuple[int, int]]) -> bool:
    w, n = cast(JSONObject, wide.node), cast(JSONObject, narrow.node)  # dicts: _covers checked
    if not set(w.get("required", ())) <= set(n.get("required", ())):
        return False
    wide_props, narrow_props = properties(wide), properties(narrow)
    wide_extra, narrow_extra = (
        w.get("additionalProperties", True),
        n.get("additionalProperties", True),
    )
    for name, schema in wide_props.items():
        if name in narrow_props:
            if not covers(schema, narrow_props[name], assumed):
                return False
        elif narrow_extra is not False and not covers(
            schema, SchemaNode(narrow_extra, narrow.root), assumed
        ):
            return False
    for name, schema in narrow_props.items():
        if name not in wide_props and not covers(
            SchemaNode(wide_extra, wide.root), schema, assumed
        ):
            return False
    if narrow_extra is False:
        return True
    return covers(SchemaNode(wide_extra, wide.root), SchemaNode(narrow_extra, narrow.root), assumed)


def _accepts_value(w: JSONObject, value: Any) -> bool:
    if "const" in w:
        return bool(w["const"] == value)
    if "enum" in w:
        return value in w["enum"]
    if _keywords(w) - {"type"}:
        return False  # bounds or structure: unsure without a validator
    kinds = _types(w)
    if kinds is None:
        return True
    if isinstance(value, bool):
        return "boolean" in kinds
    return any(isinstance(value, _JSON_TYPES.get(kind, ())) for kind in kinds)
