"""OpenTelemetry for typed-events (extra ``otel``): spans and metrics from one middleware.

```python
from typed_events.otel import OpenTelemetryMiddleware

bus = EventBus(listeners=[...], middleware=[OpenTelemetryMiddleware()])
```

It needs ``opentelemetry-api`` only; install an SDK (and an exporter) to see anything.
"""

from typed_events.otel._middleware import OpenTelemetryMiddleware

__all__ = ["OpenTelemetryMiddleware"]
