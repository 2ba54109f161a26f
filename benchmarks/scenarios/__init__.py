"""One module per library, each with the same scenario functions; run one in a fresh process.

``python -m scenarios LIBRARY FUNCTION '{"n": 1000}'`` (from ``benchmarks/``) runs
``scenarios.<LIBRARY>_bench.<FUNCTION>(**params)`` on asyncio and prints its metrics
as one JSON line. ``benchmarks/run.py`` drives it.
"""
