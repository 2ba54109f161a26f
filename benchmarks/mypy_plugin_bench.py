"""What the ``typed_events.mypy`` plugin costs a mypy run.

Generates a project of 30 event modules (3 events each), 10 route modules with 100 emits
in all (string ids, classes and instances, through emit, emit_async and emit_and_wait)
and 30 listeners, then times mypy --strict on it, cold (empty cache) and warm (cache
filled, nothing changed), with ``pydantic.mypy`` alone and with ``typed_events.mypy``
after it. Each figure is the median of ``--runs`` fresh processes.

    .venv/bin/python benchmarks/mypy_plugin_bench.py [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVENT_MODULES = 30
EVENTS_PER_MODULE = 3
ROUTE_MODULES = 10
EMITS = 100
FIELDS = ("email: str", "count: int = 0", "note: str | None = None")

CONFIGS = {
    "mypy + pydantic.mypy": "pydantic.mypy",
    "mypy + pydantic.mypy + typed_events.mypy": "pydantic.mypy, typed_events.mypy",
}


def generate(project: Path) -> list[str]:
    """Write the project; return the files to check."""
    package = project / "app"
    (package / "events").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "events" / "__init__.py").write_text("")
    names: list[tuple[str, str, str]] = []  # (module, class, id)
    for m in range(EVENT_MODULES):
        lines = ["from typed_events import Event", ""]
        for e in range(EVENTS_PER_MODULE):
            cls = f"Thing{m}Happened{e}"
            event_id = f"thing_{m}_happened_{e}"
            lines += ["", f'class {cls}(Event, event_id="{event_id}"):']
            lines += [f"    {field}" for field in FIELDS]
            names.append((f"app.events.mod{m}", cls, event_id))
        (package / "events" / f"mod{m}.py").write_text("\n".join(lines) + "\n")
    methods = ("emit", "emit_async", "emit_and_wait")
    per_route = EMITS // ROUTE_MODULES
    for r in range(ROUTE_MODULES):
        chosen = [names[(r * per_route + i) % len(names)] for i in range(per_route)]
        imports = sorted({(module, cls) for module, cls, _ in chosen})
        lines = [f"from {module} import {cls}" for module, cls in imports]
        lines += [
            "",
            "from typed_events import EventBus",
            "",
            "",
            "async def handle(bus: EventBus) -> None:",
        ]
        for i, (_, cls, event_id) in enumerate(chosen):
            method = methods[i % 3]
            call = "await bus." + method if method != "emit" else "bus.emit"
            form = i % 3
            if form == 0:
                lines.append(f'    {call}("{event_id}", email="a@example.com", count={i})')
            elif form == 1:
                lines.append(f'    {call}({cls}, email="a@example.com", note="n")')
            else:
                lines.append(f'    {call}({cls}(email="a@example.com"))')
        (package / f"routes{r}.py").write_text("\n".join(lines) + "\n")
    lines = ["from typing import Any", "", "from typed_events import listener"]
    for module, cls, _ in names[:30]:
        lines.append(f"from {module} import {cls}")
    for index, (_, cls, _) in enumerate(names[:30]):
        lines += ["", "", f"@listener({cls})"]
        if index % 2:
            lines.append(f"async def on_{index}(event: {cls}) -> None: ...")
        else:
            lines.append(f"async def on_{index}(email: str, **kwargs: Any) -> None: ...")
    (package / "listeners.py").write_text("\n".join(lines) + "\n")
    return ["app"]


def _config(project: Path, plugins: str) -> Path:
    path = project / f"mypy-{len(plugins)}.ini"
    path.write_text(
        f"[mypy]\nstrict = True\nplugins = {plugins}\n\n"
        "[pydantic-mypy]\ninit_typed = True\ninit_forbid_extra = True\n\n"
        "[typed-events]\nevents_modules = app.events.mod0\n"
    )
    return path


def _time_mypy(project: Path, config: Path, cache: Path, files: list[str]) -> float:
    command = [
        sys.executable, "-m", "mypy", "--config-file", str(config),
        "--cache-dir", str(cache), *files,
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"mypy reported errors on the generated project:\n{result.stdout}")
    return elapsed


def measure(runs: int) -> dict[str, dict[str, float]]:
    """Median cold and warm seconds per configuration.

    One untimed run first (the OS file cache), then the configurations take turns run
    by run, so that a noisy moment on the machine hits both alike.
    """
    with tempfile.TemporaryDirectory() as directory:
        project = Path(directory)
        files = generate(project)
        configs = {name: _config(project, plugins) for name, plugins in CONFIGS.items()}
        _time_mypy(project, next(iter(configs.values())), project / ".cache-warmup", files)
        cold: dict[str, list[float]] = {name: [] for name in configs}
        warm: dict[str, list[float]] = {name: [] for name in configs}
        for run in range(runs):
            for index, (name, config) in enumerate(configs.items()):
                cache = project / f".cache-{index}-{run}"
                cold[name].append(_time_mypy(project, config, cache, files))
                warm[name].append(_time_mypy(project, config, cache, files))
                shutil.rmtree(cache)
        return {
            name: {"cold_s": statistics.median(cold[name]), "warm_s": statistics.median(warm[name])}
            for name in configs
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    figures = measure(args.runs)
    print(f"{EVENT_MODULES} event modules, {EMITS} emits, median of {args.runs} runs")
    print(f"{'configuration':45} {'cold (s)':>9} {'warm (s)':>9}")
    for name, row in figures.items():
        print(f"{name:45} {row['cold_s']:9.2f} {row['warm_s']:9.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
