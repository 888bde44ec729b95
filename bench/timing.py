"""Timing shared by the benchmark scripts (run as `python bench/bench_*.py`, so this is importable)."""

import statistics
import time


def best_of(fn, repeats=5):
    """(best, median) wall seconds of `repeats` calls: best is the machine's capability, the median
    shows how noisy it was (this 2-core machine is often shared)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)
