"""mypy plugin: ``emit("user_created", email=...)`` checked like ``UserCreated(email=...)``.

Enable it in the mypy config (after or before ``pydantic.mypy``, either works)::

    [mypy]
    plugins = pydantic.mypy, typed_events.mypy

    [typed-events]
    # modules that define events; needed when a module emits an id it does not import
    events_modules = myapp.events

What it does, for ``EventBus.emit``, ``emit_async`` and ``emit_and_wait``:

- ``emit(UserCreated, emial=...)``: reported as ``UserCreated(emial=...)`` would be
  (``Unexpected keyword argument "emial" for "UserCreated"``) instead of mypy's
  ``No overload variant`` for the overloaded method.
- ``emit("user_created", ...)`` or an id held in a ``Final`` constant: the fields are
  checked against the class that declares the id (positional values fill the fields
  in declaration order, as at run time); an id no visible class declares is an
  ``[event-id]`` error with a close-match suggestion. A plain ``str`` id stays accepted.

Which classes are visible, so that the answer never depends on the order in which
mypy processes modules: the Event subclasses in the modules the emitting module
imports, directly or not, plus those in ``events_modules``. Each emitting module gets
``events_modules`` as extra dependencies (so they are analysed first and a change to
them re-checks it), and the modules of the classes it used as indirect dependencies
(so an incremental run after a field rename re-checks it).
"""

from __future__ import annotations

import configparser
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import cast

from mypy.checker import TypeChecker
from mypy.errorcodes import ErrorCode
from mypy.nodes import (
    ARG_NAMED,
    ARG_NAMED_OPT,
    ARG_OPT,
    ARG_POS,
    ARG_STAR,
    ARG_STAR2,
    ArgKind,
    CallExpr,
    Expression,
    MypyFile,
    TypeInfo,
)
from mypy.options import Options
from mypy.plugin import (
    CheckerPluginInterface,
    ClassDefContext,
    MethodContext,
    MethodSigContext,
    Plugin,
    ReportConfigContext,
)
from mypy.typeops import type_object_type
from mypy.types import (
    AnyType,
    CallableType,
    FunctionLike,
    ProperType,
    Type,
    TypeOfAny,
    get_proper_type,
)

from typed_events._mypy_deps import depend_on_class, depend_on_modules
from typed_events._mypy_events import (
    LIBRARY_PATH,
    event_class_of,
    event_classes,
    import_closure,
    literal_str,
    record_event_id,
)
from typed_events._mypy_listeners import DECORATOR_FULLNAME, check_listener_decorator
from typed_events.errors import closest

__all__ = ["EVENT_ID", "TypedEventsPlugin", "plugin"]

BUS_FULLNAME = "typed_events.bus.EventBus"
_EMIT_NAMES = ("emit", "emit_async", "emit_and_wait")
EMIT_METHODS = frozenset(f"{BUS_FULLNAME}.{name}" for name in _EMIT_NAMES)
CONFIG_SECTION = "typed-events"

EVENT_ID = ErrorCode("event-id", "An emitted event id that no event class declares", "typed-events")

# Priority of the extra dependency on the events modules: the same as a normal import.
_PRIORITY_IMPORT = 10


class TypedEventsPlugin(Plugin):
    """The plugin object mypy loads from ``plugins = typed_events.mypy``."""

    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.events_modules = read_events_modules(options.config_file)
        # Per checked module: modules whose event classes it used (for incremental runs).
        self._used_modules: dict[str, set[str]] = {}
        self._visible_cache: dict[str, tuple[str, ...]] = {}
        self._last_listener_argument: Expression | None = None
        self._reported_missing: set[str] = set()  # modules told about a missing events module
        self._bus_classes: dict[str, bool] = {}  # method fullname -> EventBus's own emit

    # -- configuration and dependencies ---------------------------------------------

    def report_config_data(self, ctx: ReportConfigContext) -> dict[str, list[str]]:
        """Changing ``events_modules`` invalidates the cache."""
        return {"events_modules": list(self.events_modules)}

    def get_additional_deps(self, file: MypyFile) -> list[tuple[int, str, int]]:
        """Make every module of the project depend on the configured events modules."""
        if not self.events_modules or _is_library(file):
            return []
        return [
            (_PRIORITY_IMPORT, module, -1)
            for module in self.events_modules
            if module != file.fullname and not module.startswith(f"{file.fullname}.")
        ]

    def get_additional_indirect_deps(self, file: MypyFile) -> set[str]:
        """The modules whose event classes this module's emits were checked against."""
        return self._used_modules.pop(file.fullname, set())

    # -- recording event ids ----------------------------------------------------------

    def get_customize_class_mro_hook(self, fullname: str) -> Callable[[ClassDefContext], None]:
        # Not get_base_class_hook: mypy asks plugins in order and pydantic's answers it
        # for every model, so ours would never run after pydantic's.
        return record_event_id

    # -- emit ---------------------------------------------------------------------------

    def get_method_signature_hook(
        self, fullname: str
    ) -> Callable[[MethodSigContext], FunctionLike] | None:
        if fullname == DECORATOR_FULLNAME:
            return self._check_listener
        return self._relax_emit_signature if self._is_emit(fullname) else None

    def _check_listener(self, ctx: MethodSigContext) -> FunctionLike:
        # A signature hook, not a method hook: mypy tries each overload of __call__ with
        # its errors filtered, so an error reported from a method hook would only make
        # the matching overload fail. mypy calls this once per overload item, in a row,
        # with the same argument node: check it once.
        argument = ctx.args[0][0] if ctx.args and ctx.args[0] else None
        if (
            argument is not None
            and argument is not self._last_listener_argument
            and not _errors_filtered(ctx.api)
        ):
            self._last_listener_argument = argument
            check_listener_decorator(ctx)
        return ctx.default_signature

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        return self._check_emit if self._is_emit(fullname) else None

    def _is_emit(self, fullname: str) -> bool:
        """``EventBus.emit`` (or emit_async, emit_and_wait), also through a subclass."""
        if fullname in EMIT_METHODS:
            return True
        owner, _, name = fullname.rpartition(".")
        if name not in _EMIT_NAMES:
            return False
        known = self._bus_classes.get(fullname)
        if known is None:
            symbol = self.lookup_fully_qualified(owner)
            node = symbol.node if symbol is not None else None
            # Inherited, not overridden: an override may take other arguments.
            method = node.get(name) if isinstance(node, TypeInfo) else None
            known = method is not None and method.fullname == f"{BUS_FULLNAME}.{name}"
            self._bus_classes[fullname] = known
        return known

    def _relax_emit_signature(self, ctx: MethodSigContext) -> FunctionLike:
        # For the forms we check precisely, accept anything here: an overloaded method
        # only ever yields "No overload variant matches", and _check_emit reports the
        # precise errors of the one signature that applies.
        signature = ctx.default_signature
        if not ctx.args or len(ctx.args[0]) != 1:
            return signature
        first = get_proper_type(ctx.api.get_expression_type(ctx.args[0][0]))
        if event_class_of(first) is None and literal_str(first) is None:
            return signature
        anything = AnyType(TypeOfAny.special_form)
        # The arguments are mypy types, as copy_modified requires.
        return signature.copy_modified(  # pyright: ignore[reportUnknownMemberType]  # mypy types its parameters with Bogus[...], which pyright cannot resolve
            arg_types=[anything, anything, anything],
            arg_kinds=[ARG_POS, ARG_STAR, ARG_STAR2],
            arg_names=[None, None, None],
            variables=[],
        )

    def _check_emit(self, ctx: MethodContext) -> Type:
        if not ctx.args or len(ctx.args[0]) != 1 or not isinstance(ctx.api, TypeChecker):
            return ctx.default_return_type
        checker = ctx.api
        event_expr = ctx.args[0][0]
        first = get_proper_type(ctx.arg_types[0][0])
        info = event_class_of(first)
        positional_fields = False
        if info is None:
            event_id = literal_str(first)
            if event_id is None:
                return ctx.default_return_type
            found = self._resolve_id(checker, event_id, event_expr)
            if found is None:
                return ctx.default_return_type
            info = found
            positional_fields = True  # emit("id", *values) fills fields in order
        self._used_modules.setdefault(_current_module(checker), set()).add(info.module_name)
        depend_on_class(checker, info)
        # The class object as written (Box[int] is specialised), else the class's own.
        constructor: ProperType = first
        if positional_fields or not isinstance(first, CallableType):
            constructor = get_proper_type(type_object_type(info, checker.named_type))
        if not isinstance(constructor, CallableType):
            return ctx.default_return_type
        args, kinds, names = _call_arguments(ctx)
        by_position = _positional_values(kinds) if positional_fields else 0
        signature = _fields_signature(constructor, info, by_position)
        checker.expr_checker.check_call(signature, args, kinds, ctx.context, names)
        return ctx.default_return_type

    def _resolve_id(
        self, checker: TypeChecker, event_id: str, context: Expression
    ) -> TypeInfo | None:
        current = _current_module(checker)
        self._report_missing_events_modules(checker, current, context)
        modules = self._visible_modules(checker, current)
        by_id = event_classes(checker.modules, modules, checker.options)
        candidates = by_id.get(event_id, [])
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            depend_on_modules(checker, modules)
            names = " and ".join(sorted(info.fullname for info in candidates))
            checker.fail(
                f'Event id "{event_id}" is declared by {names}; emit the class instead '
                f"(bus.emit({candidates[0].name}, ...)) so the checker knows which",
                context,
                code=EVENT_ID,
            )
            return None
        if None in by_id:
            return None  # some visible event's id is computed at run time: cannot tell
        # An id added to any visible module must re-check this one.
        self._used_modules.setdefault(current, set()).update(modules)
        depend_on_modules(checker, modules)
        known = sorted(key for key in by_id if key is not None)
        suggestion = closest(event_id, known)
        hint = f'; did you mean "{suggestion}"?' if suggestion else ""
        checker.fail(f'Unknown event id "{event_id}"{hint}', context, code=EVENT_ID)
        listing = ", ".join(f'"{key}"' for key in known) or "none"
        checker.note(
            f"Ids declared by Event subclasses visible from {current}: {listing}. If the "
            "event is defined in a module that this one does not import, list that module "
            f"in events_modules in the [{CONFIG_SECTION}] section of the mypy config",
            context,
            code=EVENT_ID,
        )
        return None

    def _report_missing_events_modules(
        self, checker: TypeChecker, current: str, context: Expression
    ) -> None:
        """A name in ``events_modules`` that mypy has not loaded: a typo, say. Once a module."""
        if current in self._reported_missing:
            return
        if not _errors_filtered(checker):  # else mypy is only trying an overload
            self._reported_missing.add(current)
        for name in self.events_modules:
            if name not in checker.modules:
                checker.fail(
                    f'events_modules in [{CONFIG_SECTION}] lists "{name}", which mypy did not '
                    "find (or does not follow): the ids it defines cannot be checked. Fix the "
                    "module name in the mypy config",
                    context,
                    code=EVENT_ID,
                )

    def _visible_modules(self, checker: TypeChecker, current: str) -> tuple[str, ...]:
        cached = self._visible_cache.get(current)
        if cached is None:
            roots = [current, *self.events_modules]
            cached = self._visible_cache[current] = import_closure(checker.modules, roots)
        return cached


def plugin(version: str) -> type[TypedEventsPlugin]:
    """Entry point mypy calls with its version."""
    return TypedEventsPlugin


# -- configuration ----------------------------------------------------------------------


def read_events_modules(config_file: str | None) -> tuple[str, ...]:
    """``events_modules`` from ``[typed-events]`` (ini/cfg) or ``[tool.typed-events]`` (toml).

    :raises ValueError: if the setting is not a list of module names.
    """
    if config_file is None or not Path(config_file).is_file():
        return ()
    path = Path(config_file)
    names: list[str]
    if path.suffix == ".toml":
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        section = document.get("tool", {}).get(CONFIG_SECTION, {})
        value: object = section.get("events_modules", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ValueError(
                f"{config_file}: [tool.{CONFIG_SECTION}] events_modules must be a list of "
                f"module names, got {value!r}"
            )
        names = [str(item) for item in cast("list[object]", value)]
    else:
        parser = configparser.ConfigParser()
        parser.read(path)
        names = re.split(r"[\s,]+", parser.get(CONFIG_SECTION, "events_modules", fallback=""))
    return tuple(dict.fromkeys(name.strip() for name in names if name.strip()))


def _errors_filtered(api: CheckerPluginInterface) -> bool:
    """Whether mypy is only trying an alternative, and would discard the errors.

    (A watcher that saves what it filters, as around an assignment's value, reports it
    later if that inference is kept.)
    """
    if not isinstance(api, TypeChecker):
        return True
    return any(
        watcher._filter and watcher._filtered is None  # pyright: ignore[reportPrivateUsage]  # mypy has no public way to ask
        for watcher in api.msg.errors.get_watchers()
    )


def _is_library(file: MypyFile) -> bool:
    # Standard library and installed packages never emit the project's events; giving
    # them a dependency on project modules would drag those into their import cycles.
    name = file.fullname
    if name == "typed_events" or name.startswith("typed_events."):
        return True
    return bool(file.path and LIBRARY_PATH.search(file.path))


def _current_module(checker: CheckerPluginInterface) -> str:
    tree = getattr(checker, "tree", None)
    return tree.fullname if isinstance(tree, MypyFile) else ""


# -- signatures -------------------------------------------------------------------------


def _positional_values(kinds: list[ArgKind]) -> int | None:
    """How many field values a call passes by position (after the id); None: unknown (*xs)."""
    if ARG_STAR in kinds:
        return None
    return sum(1 for kind in kinds[1:] if kind == ARG_POS)


def _fields_signature(
    constructor: CallableType, info: TypeInfo, by_position: int | None
) -> CallableType:
    """The constructor's parameters, named after the event, for checking emit's payload.

    ``by_position``: as at run time, the first that many fields are filled by position
    and the rest by keyword. None (a ``*values`` argument of unknown length): every
    field may come by position, and none is reported missing.
    """
    kinds: list[ArgKind] = list(constructor.arg_kinds)
    if by_position is None:
        kinds = [ARG_OPT if kind in (ARG_POS, ARG_NAMED, ARG_NAMED_OPT) else kind for kind in kinds]
    elif by_position:
        kinds = [
            _POSITIONAL_KIND.get(kind, kind) if index < by_position else kind
            for index, kind in enumerate(kinds)
        ]
    # The event itself stays the first parameter, so that mypy's messages count and
    # name the arguments as the user wrote them ('Argument "email" to "UserCreated"').
    return constructor.copy_modified(  # pyright: ignore[reportUnknownMemberType]  # mypy types its parameters with Bogus[...], which pyright cannot resolve
        arg_types=[AnyType(TypeOfAny.special_form), *constructor.arg_types],
        arg_kinds=[ARG_POS, *kinds],
        arg_names=[None, *constructor.arg_names],
        name=info.name,
    )


_POSITIONAL_KIND = {ARG_NAMED: ARG_POS, ARG_NAMED_OPT: ARG_OPT}


def _call_arguments(ctx: MethodContext) -> tuple[list[Expression], list[ArgKind], list[str | None]]:
    """The call's arguments as written: kinds, names, and each star argument once."""
    if isinstance(ctx.context, CallExpr):
        call = ctx.context
        return list(call.args), list(call.arg_kinds), list(call.arg_names)
    # ctx.args maps actuals to formals, so a star argument appears once per formal it
    # fills; keep the first of each.
    seen: set[int] = set()
    args: list[Expression] = []
    kinds: list[ArgKind] = []
    names: list[str | None] = []
    for formal in range(len(ctx.args)):
        for arg, kind, name in zip(
            ctx.args[formal], ctx.arg_kinds[formal], ctx.arg_names[formal], strict=True
        ):
            if id(arg) not in seen:
                seen.add(id(arg))
                args.append(arg)
                kinds.append(kind)
                names.append(name)
    return args, kinds, names
