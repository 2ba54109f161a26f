"""The trace context in CloudEvents extension attributes, through the global propagator.

W3C Trace Context's ``traceparent`` and ``tracestate`` are already valid CloudEvents
extension names (the CloudEvents distributed-tracing extension uses exactly those). Other
propagators' keys (B3's ``X-B3-TraceId``) are not, so every key is stored lowercased with
anything but letters and digits removed (``xb3traceid``), and read back the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter

__all__ = ["extension_name", "extract", "inject"]


def extension_name(key: str) -> str:
    """The CloudEvents extension attribute a propagator's ``key`` is stored under."""
    return "".join(c for c in key.lower() if c.isascii() and c.isalnum())


class _ExtensionSetter(Setter[dict[str, str]]):
    def set(self, carrier: dict[str, str], key: str, value: str) -> None:
        carrier[extension_name(key)] = value


class _ExtensionGetter(Getter[Mapping[str, Any]]):
    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(extension_name(key))
        return None if value is None else [str(value)]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier)


_SETTER = _ExtensionSetter()
_GETTER = _ExtensionGetter()


def inject(extensions: dict[str, str], context: Context | None = None) -> None:
    """Add the current (or ``context``'s) trace context to an envelope's extensions."""
    propagate.inject(extensions, context=context, setter=_SETTER)


def extract(extensions: Mapping[str, Any]) -> Context:
    """The remote context an envelope's extensions carry (an empty one if none).

    Extracted onto an empty context, not the consumer's: a message continues the trace
    of whoever emitted it, never whatever the consuming task happened to run under.
    """
    return propagate.extract(extensions, context=Context(), getter=_GETTER)
