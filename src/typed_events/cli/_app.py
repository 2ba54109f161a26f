"""Load the wiring of a user's app from an ``APP`` string (``module:attribute``).

The command-line tools (``typed-events check|list|schema``) all start here. The attribute
may be an :class:`~typed_events.EventBus`, a sequence of listeners, or a Litestar app
(through :func:`typed_events.contrib.litestar.wiring_of`). Every user mistake becomes an
:class:`AppLoadError` with a one-line message (and, for an exception raised while importing
the user's module, that traceback cut down to the user's frames), never a raw traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from typed_events.bus import EventBus
from typed_events.errors import (
    AppLoadError,
    DuplicateEventError,
    ListenerSignatureError,
    SignatureProblem,
)
from typed_events.events import Event
from typed_events.listeners import Listener, qualified_name

__all__ = ["AppLoadError", "LoadedApp", "load_app", "load_object"]

_EXPECTED = "an EventBus, a list of @listener functions, or a Litestar app"
_PACKAGE_DIR = str(Path(__file__).resolve().parent)


@dataclass
class LoadedApp:
    """What an ``APP`` string names: its listeners and the event classes it knows.

    ``build_problems`` holds what stopped the user's module from building its bus (the
    bus raises :class:`~typed_events.ListenerSignatureError` while the module is imported);
    ``listeners`` is then empty, since the module never finished.
    """

    target: str
    listeners: tuple[Listener[..., Any], ...] = ()
    events: tuple[type[Event], ...] = ()
    build_problems: list[SignatureProblem] = field(default_factory=list[SignatureProblem])
    build_errors: list[str] = field(default_factory=list[str])

    @property
    def built(self) -> bool:
        """False if importing the module failed on a wiring problem."""
        return not (self.build_problems or self.build_errors)


def load_app(target: str, app_dir: str | None = None) -> LoadedApp:
    """Import ``target`` (``module:attribute``) and collect its listeners and events.

    :param target: ``package.module:attribute``; the attribute may be dotted (``a.b``).
    :param app_dir: a directory put first on ``sys.path`` (default: the current one), as
        uvicorn's ``--app-dir`` does.
    :raises AppLoadError: for a malformed string, a missing module or attribute, an
        exception while importing, or an attribute of the wrong type.
    """
    module_name, attribute = _split_target(target)
    directory = _on_import_path(app_dir)
    try:
        module = _import(module_name, target, directory)
    except ListenerSignatureError as error:
        return LoadedApp(target, build_problems=[_as_problem(p) for p in error.problems])
    except DuplicateEventError as error:
        return LoadedApp(target, build_errors=[str(error)])
    obj = _get_attribute(module, attribute, target)
    listeners, events = _wiring_of(obj, target)
    return LoadedApp(target, tuple(listeners), (*events, *_events_defined_in(module)))


def _on_import_path(app_dir: str | None) -> str:
    """Put ``app_dir`` (default: the current directory) first on ``sys.path``; return it."""
    directory = os.path.abspath(app_dir if app_dir is not None else os.getcwd())
    if app_dir is not None and not os.path.isdir(directory):
        raise AppLoadError(f"--app-dir {app_dir!r} is not a directory")
    if directory not in sys.path:
        sys.path.insert(0, directory)
    return directory


def load_object(target: str, app_dir: str | None, expected: str) -> object:
    """Import ``target`` and return the object it names, for commands that take one object.

    :param expected: what the attribute should be, for the error message.
    :raises AppLoadError: as :func:`load_app` (a wiring error while importing included).
    """
    module_name, attribute = _split_target(target)
    directory = _on_import_path(app_dir)
    try:
        module = _import(module_name, target, directory)
    except (ListenerSignatureError, DuplicateEventError) as error:
        raise AppLoadError(f"cannot import {module_name!r} for APP {target!r}: {error}") from None
    return _get_attribute(module, attribute, target, expected)


def _split_target(target: str) -> tuple[str, str]:
    module_name, colon, attribute = target.partition(":")
    valid = (
        colon
        and all(part.isidentifier() for part in module_name.split("."))
        and all(part.isidentifier() for part in attribute.split("."))
    )
    if not valid:
        raise AppLoadError(
            f"APP must be module:attribute (for example myapp.events:bus), got {target!r}"
        )
    return module_name, attribute


def _import(module_name: str, target: str, directory: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and _is_prefix(error.name, module_name):
            raise AppLoadError(
                f"cannot import {module_name!r} for APP {target!r}: no module named "
                f"{error.name!r} (searched {directory} and sys.path; "
                "run from your project's root or pass --app-dir DIR)"
            ) from None
        raise _import_failure(module_name, error) from None
    except (ListenerSignatureError, DuplicateEventError):
        raise
    except Exception as error:  # any exception in user code is reported, not raised
        raise _import_failure(module_name, error) from None


def _is_prefix(missing: str, module_name: str) -> bool:
    """True if ``missing`` is ``module_name`` itself or one of its parent packages."""
    return module_name == missing or module_name.startswith(missing + ".")


def _import_failure(module_name: str, error: BaseException) -> AppLoadError:
    # str(SyntaxError) names the file and line, its last formatted line does not.
    summary = f"{type(error).__qualname__}: {error}"
    return AppLoadError(
        f"importing {module_name!r} raised {summary}", details=_user_traceback(error)
    )


def _user_traceback(error: BaseException) -> str:
    """The traceback of ``error`` without importlib's and typed-events' own frames."""
    formatted = traceback.TracebackException.from_exception(error)
    _drop_machinery_frames(formatted, set())
    return "".join(formatted.format()).rstrip()


def _drop_machinery_frames(formatted: traceback.TracebackException, seen: set[int]) -> None:
    if id(formatted) in seen:
        return
    seen.add(id(formatted))
    user_frames = [frame for frame in formatted.stack if not _is_machinery(frame.filename)]
    formatted.stack = traceback.StackSummary.from_list(user_frames)
    for chained in (formatted.__cause__, formatted.__context__):
        if chained is not None:
            _drop_machinery_frames(chained, seen)


def _is_machinery(filename: str) -> bool:
    return (
        filename.startswith("<frozen importlib")
        or os.path.dirname(os.path.abspath(filename)) == _PACKAGE_DIR
        or filename == importlib.__file__
    )


def _get_attribute(
    module: ModuleType, attribute: str, target: str, expected: str = _EXPECTED
) -> object:
    obj: object = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            candidates = _candidates(module)
            hint = f"; it defines {', '.join(candidates)}" if candidates else ""
            raise AppLoadError(
                f"APP {target!r}: module {module.__name__!r} has no attribute "
                f"{attribute!r}{hint}. Expected {expected}"
            )
        obj = getattr(obj, part)
    return obj


def _candidates(module: ModuleType) -> list[str]:
    """Names in ``module`` that would be valid targets, to suggest one."""
    found: list[str] = []
    for name, value in vars(module).items():
        if isinstance(value, EventBus) or _is_litestar_app(value) or _is_listener_sequence(value):
            found.append(name)
    return found


def _wiring_of(
    obj: object, target: str
) -> tuple[Sequence[Listener[..., Any]], Sequence[type[Event]]]:
    if isinstance(obj, EventBus):
        return obj.listeners, tuple(obj.registry)
    if _is_litestar_app(obj):
        return _litestar_wiring(obj)
    if isinstance(obj, Sequence) and not isinstance(obj, str | bytes):
        # isinstance leaves the item type unknown; the loop checks every item.
        for index, item in enumerate(cast("Sequence[object]", obj)):
            if not isinstance(item, Listener):
                raise AppLoadError(
                    f"APP {target!r}: item {index} of the sequence, {_describe_object(item)}, "
                    "is not a listener; decorate it with @listener(SomeEvent)"
                )
        return tuple(cast("Sequence[Listener[..., Any]]", obj)), ()
    if isinstance(obj, type):
        found = f"the class {obj.__module__}.{obj.__qualname__}"
    else:
        found = f"{_short_repr(obj)} ({type(obj).__qualname__})"
    raise AppLoadError(f"APP {target!r} is {found}; expected {_EXPECTED}")


def _litestar_wiring(
    app: object,
) -> tuple[Sequence[Listener[..., Any]], Sequence[type[Event]]]:
    # Imported only for a Litestar app: litestar is an optional extra.
    try:
        contrib = importlib.import_module("typed_events.contrib.litestar")
    except ModuleNotFoundError as error:
        if error.name != "typed_events.contrib.litestar":
            raise
        raise AppLoadError(
            "this typed-events has no Litestar support (typed_events.contrib.litestar); "
            "point APP at your EventBus or list of listeners instead"
        ) from None
    wiring: tuple[Sequence[Listener[..., Any]], Sequence[type[Event]]] = contrib.wiring_of(app)
    return wiring


def _is_listener_sequence(value: object) -> bool:
    if not isinstance(value, list | tuple):
        return False
    items = cast("Sequence[object]", value)  # isinstance leaves the item type unknown
    return bool(items) and all(isinstance(item, Listener) for item in items)


def _is_litestar_app(obj: object) -> bool:
    litestar = sys.modules.get("litestar")
    app_class = getattr(litestar, "Litestar", None)
    return isinstance(app_class, type) and isinstance(obj, app_class)


def _events_defined_in(module: ModuleType) -> list[type[Event]]:
    """Event classes defined at the top level of ``module`` (not imported into it)."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Event)
        and value is not Event
        and value.__module__ == module.__name__
        # A class other events derive from is a base, not an event anyone emits.
        and not value.__subclasses__()
    ]


def _as_problem(problem: object) -> SignatureProblem:
    if isinstance(problem, SignatureProblem):
        return problem
    return SignatureProblem("?", "<unknown>", "?", None, str(problem), "see the message")


def _describe_object(obj: object) -> str:
    if callable(obj) and not isinstance(obj, type):
        return qualified_name(obj)
    return _short_repr(obj)


def _short_repr(obj: object, limit: int = 60) -> str:
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."
