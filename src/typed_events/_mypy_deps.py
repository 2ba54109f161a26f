"""Fine-grained dependencies for the mypy daemon (dmypy, what editors run).

A module that emits ``"user_created"`` mentions no name of ``UserCreated``, so mypy's own
dependency map would never re-check it when a field of that class changes. The plugin
records, for the function (or module top level) being checked, triggers on what the
check read: the event class and its members, or for an id no class declares, every
visible module's namespace. mypy reads these from ``MypyFile.plugin_deps`` when it
computes the module's dependencies, after type checking.
"""

from __future__ import annotations

from collections.abc import Iterable

from mypy.checker import TypeChecker
from mypy.nodes import FuncDef, TypeInfo
from mypy.server.trigger import make_trigger, make_wildcard_trigger

__all__ = ["depend_on_class", "depend_on_modules"]


def depend_on_class(checker: TypeChecker, info: TypeInfo) -> None:
    """Re-check the current target when the class, its constructor or a member changes."""
    _add(
        checker,
        (
            make_trigger(info.fullname),
            make_trigger(f"{info.fullname}.__init__"),
            make_wildcard_trigger(info.fullname),
        ),
    )


def depend_on_modules(checker: TypeChecker, modules: Iterable[str]) -> None:
    """Re-check the current target when a name is added to or removed from a module."""
    _add(checker, (make_wildcard_trigger(module) for module in modules))


def _add(checker: TypeChecker, triggers: Iterable[str]) -> None:
    target = _current_target(checker)
    deps = checker.tree.plugin_deps
    for trigger in triggers:
        deps.setdefault(trigger, set()).add(target)


def _current_target(checker: TypeChecker) -> str:
    """The fine-grained target being checked: a top-level function or method, or the module."""
    function = checker.scope.top_level_function()
    if isinstance(function, FuncDef) and function.fullname:
        return function.fullname
    return checker.tree.fullname
