"""How much faster the analytic cost model is than tracing the torch model with fvcore."""

from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass

from ..families import analyze, counted_model


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass(frozen=True)
class CostBenchmark:
    analytic_s: float  # one analysis (median of 7 samples of `inner` calls)
    fvcore_s: float  # trace + count of a built model
    build_and_count_s: float  # build + trace + count from the spec
    inner: int
    repeat: int
    same_totals: bool
    machine: str

    @property
    def speedup(self) -> float:
        return self.fvcore_s / self.analytic_s

    @property
    def speedup_from_spec(self) -> float:
        return self.build_and_count_s / self.analytic_s


def bench_cost(spec, resolution: int = 224, repeat: int = 5, inner: int = 200) -> CostBenchmark:
    import torch

    from .fvcore_count import count_model

    repeat = max(1, repeat)
    model = counted_model(spec, resolution)
    # Many analytic calls per sample, so the timer's resolution does not matter.
    analytic = median_seconds(
        lambda: [analyze(spec, resolution).madds("core") for _ in range(inner)], 7) / inner
    fvcore = median_seconds(lambda: count_model(model, resolution, "core"), repeat)
    build_and_count = median_seconds(
        lambda: count_model(counted_model(spec, resolution), resolution, "core"), repeat)
    same = analyze(spec, resolution).madds("core") == count_model(model, resolution, "core").total
    machine = (f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
               f"{platform.processor() or platform.machine()}")
    return CostBenchmark(analytic, fvcore, build_and_count, inner, repeat, same, machine)
