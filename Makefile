# One command runs the demo, one runs every check. Both create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest docs stubs-check bench bench-redis bench-redis-scaling \
	bench-redis-partitions bench-redis-drain clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,redis,litestar,cli,sqlalchemy,otel]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: lint typecheck stubs-check pytest docs

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy src tests examples
	PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(BIN)/pyright

pytest: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider --cov --cov-branch --cov-report=term --cov-fail-under=90

# The checked-in stubs (for pyright users of the string form) must match the examples.
stubs-check: $(STAMP)
	$(BIN)/typed-events stubgen examples.app:bus -o stubs --check

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(VENV)/site

# The benchmark has its own environment: typed-events from this checkout plus the peers.
BENCH_VENV := benchmarks/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml benchmarks/requirements.txt
	$(PY) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[redis]' -r benchmarks/requirements.txt
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/run.py $(BENCH_ARGS)

# typed-events on Redis side by side with FastStream and a raw client floor (issue 17's goals).
bench-redis: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/redis_side_by_side.py $(BENCH_ARGS)

# The Redis backend alone, 1 and 4 consumer processes, next to the in-memory emitter.
bench-redis-scaling: $(STAMP)
	$(BIN)/python benchmarks/redis_bench.py

# A partitioned event: 1, 2 and 4 consumer processes on 16 partitions, ordered and unordered.
bench-redis-partitions: $(STAMP)
	$(BIN)/python benchmarks/redis_partitions_bench.py $(BENCH_ARGS)

# One consumer draining a pre-filled stream; BENCH_ARGS="--against REV" measures REV beside it.
bench-redis-drain: $(STAMP)
	$(BIN)/python benchmarks/redis_drain.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
