"""Run one scenario of one library in this process and print its metrics as JSON."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys


def main(argv: list[str]) -> int:
    """``LIBRARY FUNCTION PARAMS_JSON``: print the scenario's metrics as one JSON line."""
    if len(argv) != 3:
        print("usage: python -m scenarios LIBRARY FUNCTION PARAMS_JSON", file=sys.stderr)
        return 2
    library, function, params = argv
    module = importlib.import_module(f"scenarios.{library}_bench")
    scenario = getattr(module, function)
    metrics = asyncio.run(scenario(**json.loads(params)))
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
