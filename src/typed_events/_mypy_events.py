"""What the mypy plugin knows of event classes: their ids, and which ones a module can see.

An id is recorded in the class's ``TypeInfo.metadata`` (kept in mypy's cache) when the
class is analysed. Where the plugin cannot know an id statically (``**{"event_id": ...}``
in the class header, a class made by ``pydantic.create_model``, a module mypy skips),
it records "unknown" instead, so that the emit check stays silent rather than guess.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Iterable
from pathlib import Path

from mypy.nodes import (
    Expression,
    MypyFile,
    NameExpr,
    RefExpr,
    StrExpr,
    SymbolNode,
    TypeInfo,
    Var,
)
from mypy.options import Options
from mypy.plugin import ClassDefContext
from mypy.types import (
    FunctionLike,
    Instance,
    LiteralType,
    ProperType,
    TypeType,
    get_proper_type,
)

from typed_events.events import event_id_from_name

__all__ = [
    "EVENT_FULLNAME",
    "METADATA_KEY",
    "event_class_of",
    "event_classes",
    "import_closure",
    "literal_str",
    "record_event_id",
]

EVENT_FULLNAME = "typed_events.events.Event"
METADATA_KEY = "typed_events"
_BASE_MODEL = "pydantic.main.BaseModel"
LIBRARY_PATH = re.compile(r"[/\\](typeshed|site-packages|dist-packages)[/\\]")


def record_event_id(ctx: ClassDefContext) -> None:
    """Store an Event subclass's id in its TypeInfo metadata (kept in mypy's cache)."""
    info = ctx.cls.info
    if not any(base.fullname == EVENT_FULLNAME for base in info.mro[1:]):
        return
    keyword = ctx.cls.keywords.get("event_id")
    event_id: str | None
    if keyword is not None:
        event_id = _constant_str(keyword, ctx)
    elif _header_unpacks_keywords(ctx):
        event_id = None  # class K(Event, **options): the id may be in there
    else:
        event_id = event_id_from_name(info.name)
    info.metadata[METADATA_KEY] = {"event_id": event_id}


def _constant_str(expr: Expression, ctx: ClassDefContext) -> str | None:
    """The value of a string literal or a ``Final`` string constant; None otherwise."""
    if isinstance(expr, StrExpr):
        return expr.value
    node: SymbolNode | None = None
    if isinstance(expr, RefExpr) and expr.node is not None:
        node = expr.node
    elif isinstance(expr, NameExpr):
        symbol = ctx.api.lookup_qualified(expr.name, expr, suppress_errors=True)
        node = symbol.node if symbol is not None else None
    if isinstance(node, Var) and isinstance(node.final_value, str):
        return node.final_value
    return None


def event_class_of(typ: ProperType) -> TypeInfo | None:
    """The Event subclass a class object (or ``type[X]``) refers to."""
    if isinstance(typ, FunctionLike) and typ.is_type_obj():
        info = typ.type_object()
    elif isinstance(typ, TypeType) and isinstance(typ.item, Instance):
        info = typ.item.type
    else:
        return None
    return info if METADATA_KEY in info.metadata else None


def literal_str(typ: ProperType) -> str | None:
    """The value of a ``Literal[...]`` str type, including a ``Final`` constant's."""
    if isinstance(typ, Instance) and typ.last_known_value is not None:
        typ = typ.last_known_value
    if (
        isinstance(typ, LiteralType)
        and isinstance(typ.value, str)
        and typ.fallback.type.fullname == "builtins.str"
    ):
        return typ.value
    return None


def event_classes(
    modules: dict[str, MypyFile], module_names: Iterable[str], options: Options
) -> dict[str | None, list[TypeInfo]]:
    """Event classes defined in the given modules, by id.

    The key None means some id is unknown statically: a class whose id is computed, an
    event class held in a variable (``create_model``), or a project module mypy did not
    analyse (``follow_imports = skip``); its list may be empty.
    """
    found: dict[str, TypeInfo] = {}
    unknown = False
    for name in module_names:
        module = modules.get(name)
        if module is None:
            unknown = unknown or _is_project_module(name, options)
            continue
        for symbol in module.names.values():
            node = symbol.node
            if isinstance(node, TypeInfo) and METADATA_KEY in node.metadata:
                found.setdefault(node.fullname, node)
            elif isinstance(node, TypeInfo):
                # An event class no hook saw: made by a plugin (pydantic's create_model).
                unknown = unknown or (
                    node.fullname != EVENT_FULLNAME and node.has_base(EVENT_FULLNAME)
                )
            elif isinstance(node, Var):
                unknown = unknown or _may_hold_event_class(node, modules, options)
    by_id: dict[str | None, list[TypeInfo]] = {None: []} if unknown else {}
    for info in found.values():
        event_id = info.metadata[METADATA_KEY].get("event_id")
        by_id.setdefault(event_id if isinstance(event_id, str) else None, []).append(info)
    return by_id


def import_closure(modules: dict[str, MypyFile], roots: Iterable[str]) -> tuple[str, ...]:
    """The modules reachable from ``roots`` through their module-level names.

    Every name a module imports points at its defining module, so this follows the
    import graph as far as it can matter: what a module can see, it imports.
    """
    seen: set[str] = set()
    stack = [root for root in roots if root in modules]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        module = modules[name]
        if LIBRARY_PATH.search(module.path or "") and "typeshed" in module.path:
            continue  # the standard library defines no events
        for symbol in module.names.values():
            target = _defining_module(symbol.node, modules)
            if target is not None and target not in seen:
                stack.append(target)
    return tuple(sorted(seen))


def _defining_module(node: SymbolNode | None, modules: dict[str, MypyFile]) -> str | None:
    if node is None:
        return None
    if isinstance(node, MypyFile):
        return node.fullname
    if isinstance(node, TypeInfo):
        return node.module_name
    prefix = node.fullname
    while "." in prefix:
        prefix = prefix.rpartition(".")[0]
        if prefix in modules:
            return prefix
    return None


def _header_unpacks_keywords(ctx: ClassDefContext) -> bool:
    """Whether the class header has ``**mapping`` (mypy's tree drops it, the source keeps it)."""
    module = ctx.api.modules.get(ctx.api.cur_mod_id)
    path = module.path if module is not None else ""
    body = ctx.cls.defs.body
    last = body[0].line - 1 if body else ctx.cls.line
    header = "".join(linecache.getline(path, number) for number in range(ctx.cls.line, last + 1))
    return "**" in header.split(":", 1)[0] if header else False


def _may_hold_event_class(node: Var, modules: dict[str, MypyFile], options: Options) -> bool:
    """A module-level variable that may be an event class the plugin cannot read."""
    if node.is_suppressed_import:
        # `from skipped import X` where mypy does not follow `skipped`: unknown if it is
        # one of the project's modules (an uninstalled library defines no event of ours).
        module = node.fullname.rpartition(".")[0] if "." in node.fullname else node.fullname
        return _is_project_module(module, options) or _is_project_module(node.fullname, options)
    typ = get_proper_type(node.type) if node.type is not None else None
    if isinstance(typ, TypeType):  # create_model(...) is typed type[BaseModel] or type[Event]
        item = get_proper_type(typ.item)
        return isinstance(item, Instance) and item.type.has_base(_BASE_MODEL)
    return False


def _is_project_module(name: str, options: Options) -> bool:
    """Whether ``name`` is a module in the project's own source (not a library)."""
    if not name:
        return False
    relative = Path(*name.split("."))
    for root in (".", *options.mypy_path):
        base = Path(root) / relative
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return True
    return False
