"""Integrations with web frameworks; each lives in its own module and needs its extra.

- :mod:`typed_events.contrib.litestar` (``pip install 'typed-events[litestar]'``).
"""
