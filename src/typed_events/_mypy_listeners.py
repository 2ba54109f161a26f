"""The mypy plugin's listener check: ``@listener(UserCreated)`` on a function that cannot take it.

The rules and messages are the registration check's (:mod:`typed_events._rules`); this
module only turns mypy's types into that table's neutral form. Reported on the decorator
line (or the ``listener(...)(func)`` call), with the text ``EventBus(...)`` would raise.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

from mypy.checker import TypeChecker
from mypy.errorcodes import ErrorCode
from mypy.messages import format_type_bare
from mypy.nodes import (
    ARG_NAMED,
    ARG_NAMED_OPT,
    ARG_OPT,
    ARG_POS,
    ARG_STAR,
    ARG_STAR2,
    ArgKind,
    CallExpr,
    Context,
    Decorator,
    FuncDef,
    TypeInfo,
)
from mypy.plugin import MethodSigContext
from mypy.subtypes import is_subtype
from mypy.typeops import type_object_type
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    LiteralType,
    NoneType,
    ProperType,
    Type,
    TypeOfAny,
    TypeVarLikeType,
    UnionType,
    get_proper_type,
    has_type_vars,
)

from typed_events._mypy_deps import depend_on_class
from typed_events._rules import (
    Param,
    TypeRules,
    event_style_findings,
    kwargs_style_findings,
    misspelled_event_finding,
)
from typed_events.errors import SignatureProblem

__all__ = ["DECORATOR_FULLNAME", "LISTENER_SIGNATURE", "check_listener_decorator"]

DECORATOR_FULLNAME = "typed_events.listeners.ListenerDecorator.__call__"
EVENT_FULLNAME = "typed_events.events.Event"

LISTENER_SIGNATURE = ErrorCode(
    "listener-signature", "A listener that cannot take an event it subscribes to", "typed-events"
)

_KINDS: dict[ArgKind, inspect._ParameterKind] = {  # pyright: ignore[reportPrivateUsage]  # inspect's own name for Parameter.kind's type
    ARG_POS: inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ARG_OPT: inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ARG_STAR: inspect.Parameter.VAR_POSITIONAL,
    ARG_NAMED: inspect.Parameter.KEYWORD_ONLY,
    ARG_NAMED_OPT: inspect.Parameter.KEYWORD_ONLY,
    ARG_STAR2: inspect.Parameter.VAR_KEYWORD,
}


def check_listener_decorator(ctx: MethodSigContext) -> None:
    """Report, on ``ctx.args[0][0]``, what the bus would reject of the decorated callable.

    Called from the signature hook of ``ListenerDecorator.__call__``, once per call.
    """
    if not isinstance(ctx.api, TypeChecker) or len(ctx.args) < 1 or len(ctx.args[0]) != 1:
        return
    checker = ctx.api
    decorator = get_proper_type(ctx.type)
    if not isinstance(decorator, Instance) or not decorator.args:
        return
    events = _event_infos(get_proper_type(decorator.args[0]))
    argument = ctx.args[0][0]
    target = _listener_function(ctx.context, checker.get_expression_type(argument), checker)
    if not events or target is None:
        return
    signature, name, line, drop_self = target
    params = _params(signature, drop_self)
    if params is None:
        return
    rules = _rules(checker)
    location = f"{checker.path}:{line}"
    for info in events:
        depend_on_class(checker, info)
        for finding in _findings(params, info, checker, rules):
            problem = SignatureProblem(name, location, _event_id(info), *finding)
            checker.fail(str(problem), argument, code=LISTENER_SIGNATURE)


def _findings(
    params: list[Param[Type]], info: TypeInfo, checker: TypeChecker, rules: TypeRules[Type]
) -> list[tuple[str | None, str, str]]:
    event_type = _instance(info)
    first = next((p for p in params if p.kind not in _VARIADIC), None)
    if (
        first is not None
        and first.kind is not inspect.Parameter.KEYWORD_ONLY
        and _is_event_annotation(get_proper_type(first.annotation))
    ):
        return list(event_style_findings(params, first, info.name, event_type, rules))
    fields = _fields(info, checker)
    if fields is None:
        return []  # the constructor cannot be read: say nothing rather than guess
    mistake = misspelled_event_finding(params, [name for name, _ in fields], rules)
    if mistake is not None:
        return [mistake]
    return list(kwargs_style_findings(params, info.name, fields, rules))


_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _event_infos(typ: ProperType) -> list[TypeInfo]:
    """The event classes of ``ListenerDecorator[E]``: one class or a union of them."""
    members = typ.items if isinstance(typ, UnionType) else [typ]
    infos: list[TypeInfo] = []
    for member in members:
        member = get_proper_type(member)
        if not isinstance(member, Instance) or member.type.fullname == EVENT_FULLNAME:
            return []
        if not member.type.has_base(EVENT_FULLNAME):
            return []
        infos.append(member.type)
    return infos


def _listener_function(
    context: Context, argument_type: Type, checker: TypeChecker
) -> tuple[CallableType, str, int, bool] | None:
    """(signature, qualified name, line, whether ``self`` is bound) of what is decorated."""
    module = checker.tree.fullname
    if isinstance(context, Decorator):
        func = context.func
        # The declared signature, not what inner decorators made of it: with stacked
        # @listener decorators, each one is checked against the function itself.
        declared = get_proper_type(func.type) if func.type is not None else None
        if not isinstance(declared, CallableType):
            return None
        # A method is called bound (TypeInfo is falsy for a plain function's FUNC_NO_INFO).
        drop_self = bool(func.info) and not func.is_static
        first_line = min([func.line, *(d.line for d in context.decorators)])
        return declared, _qualified(func, module), first_line, drop_self
    if isinstance(context, CallExpr):
        found = _callable_of(get_proper_type(argument_type))
        if found is None:
            return None
        signature, partial = found
        name, line = signature.name or "<callable>", context.line
        definition = signature.definition
        if isinstance(definition, FuncDef):
            # Named and placed as the run-time check does: where the function is defined.
            name, line = _qualified(definition, module), definition.line
        return signature, f"partial({name})" if partial else name, line, False
    return None


def _qualified(func: FuncDef, module: str) -> str:
    if func.info:
        return f"{func.info.fullname}.{func.name}"
    return func.fullname or f"{module}.{func.name}"


def _callable_of(typ: ProperType) -> tuple[CallableType, bool] | None:
    """The call signature of a function or a ``functools.partial`` (and whether a partial)."""
    if isinstance(typ, CallableType) and not typ.is_type_obj():
        return typ, False
    if isinstance(typ, Instance):
        extra = typ.extra_attrs
        if extra is not None and "__mypy_partial" in extra.attrs:
            partial = get_proper_type(extra.attrs["__mypy_partial"])
            return (partial, True) if isinstance(partial, CallableType) else None
    return None


def _params(signature: CallableType, drop_self: bool) -> list[Param[Type]] | None:
    definition = signature.definition
    names: list[str | None] = list(signature.arg_names)
    if isinstance(definition, FuncDef) and len(definition.arguments) == len(names):
        names = [argument.variable.name for argument in definition.arguments]
    params: list[Param[Type]] = []
    for index, (kind, name, typ) in enumerate(
        zip(signature.arg_kinds, names, signature.arg_types, strict=True)
    ):
        if drop_self and index == 0:
            continue
        if name is None:
            return None  # an unnamed parameter: not a signature the rules can read
        param_kind = _KINDS[kind]
        pos_only = signature.arg_names[index] is None or (
            isinstance(definition, FuncDef)
            and len(definition.arguments) == len(names)
            and definition.arguments[index].pos_only
        )
        if pos_only and param_kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
            param_kind = inspect.Parameter.POSITIONAL_ONLY
        params.append(Param(name, param_kind, kind.is_optional(), typ))
    return params


def _is_event_annotation(typ: ProperType) -> bool:
    """An Event class or a union of them (``A | None`` is not: an event is never None)."""
    members = typ.items if isinstance(typ, UnionType) else [typ]
    for member in members:
        member = get_proper_type(member)
        if not (isinstance(member, Instance) and member.type.has_base(EVENT_FULLNAME)):
            return False
    return True


def _instance(info: TypeInfo) -> Instance:
    return Instance(info, [AnyType(TypeOfAny.special_form)] * len(info.defn.type_vars))


def _event_id(info: TypeInfo) -> str:
    metadata = info.metadata.get("typed_events", {})
    event_id = metadata.get("event_id")
    return event_id if isinstance(event_id, str) else info.name


def _fields(info: TypeInfo, checker: TypeChecker) -> list[tuple[str, Type]] | None:
    """The fields the event's constructor takes, as keywords, in declaration order."""
    constructor = get_proper_type(type_object_type(info, checker.named_type))
    if not isinstance(constructor, CallableType):
        return None
    fields: list[tuple[str, Type]] = []
    for kind, name, typ in zip(
        constructor.arg_kinds, constructor.arg_names, constructor.arg_types, strict=True
    ):
        if kind in (ARG_STAR, ARG_STAR2) or name is None:
            return None  # a constructor that takes anything: the fields are unknown
        fields.append((name, typ))
    return fields


# -- comparing mypy types, as _typecompat compares annotations -----------------------------


def _rules(checker: TypeChecker) -> TypeRules[Type]:
    def describe(typ: Type) -> str:
        return format_type_bare(typ, checker.options)

    return TypeRules(
        accepts=_accepts,
        describe=describe,
        event_names=_event_names,
        optional_event_names=_optional_event_names,
    )


def _event_names(typ: Type) -> tuple[str, ...]:
    proper = get_proper_type(typ)
    if not _is_event_annotation(proper):
        return ()
    members = proper.items if isinstance(proper, UnionType) else [proper]
    return tuple(_name(member) for member in members)


def _optional_event_names(typ: Type) -> tuple[str, ...]:
    proper = get_proper_type(typ)
    if not isinstance(proper, UnionType):
        return ()
    rest = [m for m in proper.items if not isinstance(get_proper_type(m), NoneType)]
    if len(rest) == len(proper.items) or not rest:
        return ()
    if not all(_is_event_annotation(get_proper_type(m)) for m in rest):
        return ()
    return tuple(_name(member) for member in rest)


def _name(typ: Type) -> str:
    proper = get_proper_type(typ)
    return proper.type.name if isinstance(proper, Instance) else str(proper)


def _accepts(target: Type, source: Type) -> bool | None:
    """``_typecompat.accepts`` on mypy types: False only when the answer is sure."""
    target_p, source_p = get_proper_type(target), get_proper_type(source)
    if isinstance(target_p, AnyType) or _is_object(target_p):
        return True
    if isinstance(source_p, AnyType | TypeVarLikeType):
        return None
    if has_type_vars(target_p) or has_type_vars(source_p):
        return None
    if isinstance(source_p, UnionType):
        return _all(_accepts(target_p, item) for item in source_p.items)
    if isinstance(target_p, UnionType):
        return _any(_accepts(item, source_p) for item in target_p.items)
    if is_subtype(source_p, target_p):
        return True
    if isinstance(source_p, LiteralType | NoneType) and isinstance(target_p, Instance | NoneType):
        return False
    if not isinstance(source_p, Instance) or not isinstance(target_p, Instance):
        return None  # callables, TypedDicts, tuples: left to the run-time check's abstention
    if target_p.type.is_protocol:
        return None
    erased_source = Instance(source_p.type, [AnyType(TypeOfAny.special_form)] * len(source_p.args))
    erased_target = Instance(target_p.type, [AnyType(TypeOfAny.special_form)] * len(target_p.args))
    if not is_subtype(erased_source, erased_target):
        return False  # the classes themselves are incompatible
    # Compatible classes with element types that differ: as at run time, a sure
    # element mismatch is a mismatch; a wider element in an invariant container is not
    # decided here.
    if len(source_p.args) == len(target_p.args) and any(
        _accepts(t, s) is False for t, s in zip(target_p.args, source_p.args, strict=True)
    ):
        return False
    return None


def _is_object(typ: ProperType) -> bool:
    return isinstance(typ, Instance) and typ.type.fullname == "builtins.object"


def _all(results: Iterable[bool | None]) -> bool | None:
    outcome: bool | None = True
    for result in results:
        if result is False:
            return False
        if result is None:
            outcome = None
    return outcome


def _any(results: Iterable[bool | None]) -> bool | None:
    outcome: bool | None = False
    for result in results:
        if result is True:
            return True
        if result is None:
            outcome = None
    return outcome
