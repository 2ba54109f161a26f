"""What every scenario measures with: the payload, clocks, completion signals, memory probes.

Each library module uses these same pieces, so the numbers differ only by the library.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import statistics
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

EMAIL = "ada@example.com"
REASON = "signed up from the pricing page"
EVENT_ID = "user_flagged"

# Every batched scenario emits this many events, then lets the library catch up.
BATCH = 1_000

# Seconds a scenario waits for its last listener call before reporting what arrived.
FINISH_TIMEOUT = 300.0

Metrics = dict[str, Any]

now_ns = time.perf_counter_ns


def email_of(index: int) -> str:
    """A distinct address per event, so the latency listener can tell events apart."""
    return f"user{index}@example.com"


def index_of(email: str) -> int:
    """The inverse of :func:`email_of`."""
    return int(email[4 : email.index("@")])


class Tally:
    """Counts one listener's calls; :meth:`wait_until` resolves once a count is reached.

    One tally per listener: ``delivered`` is then the smallest count over listeners.
    """

    __slots__ = ("_lock", "count", "done", "target")

    def __init__(self, target: int = 0) -> None:
        self.count = 0
        self.target = target
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._lock = threading.Lock()

    def hit(self) -> None:
        """Record one call (from inside an async listener, on the event loop)."""
        self.count += 1
        if self.count == self.target:
            self.done.set_result(None)

    def hit_threadsafe(self) -> None:
        """Record one call from a worker thread (a sync listener)."""
        with self._lock:  # `count += 1` is not atomic across threads
            self.count += 1
            reached = self.count == self.target
        if reached:
            self.done.get_loop().call_soon_threadsafe(self.done.set_result, None)

    def wait_until(self, count: int) -> asyncio.Future[None]:
        """A future that resolves once ``count`` calls have happened (at once if they have).

        Await it directly in hot loops: this is what "wait until handled" costs.
        """
        with self._lock:
            if self.count >= count:
                self.done = asyncio.get_running_loop().create_future()
                self.done.set_result(None)
                return self.done
            self.target = count
            self.done = asyncio.get_running_loop().create_future()
            return self.done

    async def finish(self) -> bool:
        """Wait until ``target`` calls have happened; False if that took over 5 minutes."""
        try:
            async with asyncio.timeout(FINISH_TIMEOUT):
                await self.wait_until(self.target)
        except TimeoutError:
            return False
        return True


def delivered(tallies: list[Tally]) -> int:
    """Events every listener received."""
    return min(t.count for t in tallies)


class StartLog:
    """Listener-start times by event index, for latency."""

    __slots__ = ("starts",)

    def __init__(self, n: int) -> None:
        self.starts = [0] * n

    def record(self, email: str) -> None:
        """Note that the listener for the event with this address has started, now."""
        self.starts[index_of(email)] = now_ns()


def percentiles_us(samples_ns: list[int]) -> Metrics:
    """p50, p99, max and mean of nanosecond samples, in microseconds."""
    ordered = sorted(samples_ns)
    count = len(ordered)
    if not count:
        return {"p50_us": None, "p99_us": None, "max_us": None, "mean_us": None}

    def at(fraction: float) -> float:
        return ordered[min(count - 1, int(fraction * count))] / 1000

    return {
        "p50_us": at(0.50),
        "p99_us": at(0.99),
        "max_us": ordered[-1] / 1000,
        "mean_us": sum(ordered) / count / 1000,
    }


def latencies(emitted_ns: list[int], started_ns: list[int], warmup: int) -> Metrics:
    """Emit-to-listener-start percentiles, skipping the first ``warmup`` events."""
    samples = [s - e for e, s in zip(emitted_ns[warmup:], started_ns[warmup:], strict=True) if s]
    result = percentiles_us(samples)
    result["missing"] = sum(1 for s in started_ns[warmup:] if not s)
    return result


async def paced(n: int, rate: float, emit_one: Callable[[int], Any]) -> tuple[list[int], float]:
    """Call ``emit_one(i)`` for i in 0..n-1 at ``rate`` per second, yielding between ticks.

    The loop emits whatever is due, then yields to the event loop (``sleep(0)``) so the
    library can run its listeners; it never sleeps longer, since asyncio's timer
    resolution (about 1 ms) is coarser than the 50 µs between events at 20,000/s.

    :return: the emit time of every event (ns) and the achieved rate (events/s).
    """
    emitted = [0] * n
    start = now_ns()
    interval_ns = 1e9 / rate
    index = 0
    while index < n:
        due = min(n, int((now_ns() - start) / interval_ns) + 1)
        while index < due:
            emitted[index] = now_ns()
            emit_one(index)
            index += 1
        await asyncio.sleep(0)
    elapsed = (now_ns() - start) / 1e9
    return emitted, n / elapsed if elapsed else float("inf")


async def paced_async(
    n: int, rate: float, emit_one: Callable[[int], Awaitable[Any]]
) -> tuple[list[int], float]:
    """:func:`paced` for an emit that must be awaited (blinker, which runs listeners inline)."""
    emitted = [0] * n
    start = now_ns()
    interval_ns = 1e9 / rate
    index = 0
    while index < n:
        due = min(n, int((now_ns() - start) / interval_ns) + 1)
        while index < due:
            emitted[index] = now_ns()
            await emit_one(index)
            index += 1
        await asyncio.sleep(0)
    elapsed = (now_ns() - start) / 1e9
    return emitted, n / elapsed if elapsed else float("inf")


def rss_mb() -> float:
    """The current resident set size of this process, in MB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """The peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


class MemoryProbe:
    """Peak RSS growth (and optionally the tracemalloc peak) over a block of a scenario.

    RSS peak is the process's lifetime peak, so the probe is only meaningful in a fresh
    process whose earlier peak (imports, setup) is below the burst's; each scenario runs
    in its own process for that reason. tracemalloc slows allocation several times and
    its own tables take memory, so it runs in a separate process from the RSS figure.
    """

    def __init__(self, trace: bool) -> None:
        self.trace = trace
        self.baseline_mb = 0.0

    def __enter__(self) -> MemoryProbe:
        gc.collect()
        self.baseline_mb = rss_mb()
        if self.trace:
            tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.trace:
            self.traced_peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
        self.peak_mb = peak_rss_mb()

    def metrics(self) -> Metrics:
        """``rss_growth_mb`` and ``rss_peak_mb``; or ``tracemalloc_peak_mb`` when tracing."""
        if self.trace:
            return {"tracemalloc_peak_mb": self.traced_peak_mb}
        return {
            "rss_growth_mb": max(0.0, self.peak_mb - self.baseline_mb),
            "rss_peak_mb": self.peak_mb,
        }


class Clock:
    """Wall and CPU time of a block: ``seconds`` and ``cpu_seconds``.

    The CPU figure (this process, all threads) barely moves when other processes share
    the machine, where wall time does; the tables report wall time, the JSON both.
    """

    def __init__(self) -> None:
        self.seconds = self.cpu_seconds = 0.0
        self._wall = now_ns()
        self._cpu = time.process_time_ns()

    def stop(self) -> Clock:
        """Read both clocks; returns self."""
        self.seconds = (now_ns() - self._wall) / 1e9
        self.cpu_seconds = (time.process_time_ns() - self._cpu) / 1e9
        return self

    def rates(self, events: int) -> Metrics:
        """``events_per_s`` (wall), ``events_per_cpu_s`` and the two durations."""
        return {
            "events_per_s": events / self.seconds,
            "events_per_cpu_s": events / self.cpu_seconds if self.cpu_seconds else None,
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
        }


class Batches:
    """Per-call times of timed batches of calls.

    The median batch is the headline figure: a batch slowed by other work on the
    machine moves the mean, not the median.
    """

    def __init__(self) -> None:
        self.per_call_ns: list[float] = []
        self.total_ns = 0
        self.calls = 0

    def add(self, elapsed_ns: int, calls: int) -> None:
        """Record one batch of ``calls`` calls that took ``elapsed_ns``."""
        self.per_call_ns.append(elapsed_ns / calls)
        self.total_ns += elapsed_ns
        self.calls += calls

    def median_us(self) -> float:
        """Microseconds per call in the median batch."""
        return statistics.median(self.per_call_ns) / 1000

    def mean_us(self) -> float:
        """Microseconds per call over all batches."""
        return self.total_ns / self.calls / 1000
