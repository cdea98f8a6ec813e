"""`mfsearch bench cost`: how much faster the analytic cost model is than tracing with fvcore."""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from ..cost.fvcore_count import count_model
from ..families import analyze, counted_model
from .analysis import add_model_args, model_spec


def register(sub) -> None:
    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", metavar="BENCH")
    bench.required = True
    p = bench.add_parser("cost", help="analytic cost model vs fvcore on the same spec")
    add_model_args(p)
    p.add_argument("--repeat", type=int, default=5, help="fvcore runs (default 5)")
    p.set_defaults(func=cmd_bench_cost)


def _median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cmd_bench_cost(args: argparse.Namespace) -> int:
    spec = model_spec(args)
    repeat = max(1, args.repeat)
    model = counted_model(spec, args.res)
    # Analytic: many calls per sample so the timer resolution does not matter.
    inner = 200
    analytic = _median_seconds(
        lambda: [analyze(spec, args.res).madds("core") for _ in range(inner)], 7) / inner
    fvcore = _median_seconds(lambda: count_model(model, args.res, "core"), repeat)
    build_and_count = _median_seconds(
        lambda: count_model(counted_model(spec, args.res), args.res, "core"), repeat)
    same = analyze(spec, args.res).madds("core") == count_model(model, args.res, "core").total
    print(f"spec {spec.name} @ {args.res}x{args.res}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"analytic cost model: {analytic * 1e6:,.1f} us per spec (median of 7 x {inner} calls)")
    print(f"fvcore, model built: {fvcore * 1e3:,.1f} ms per spec (trace + count, median of "
          f"{repeat})")
    print(f"fvcore from the spec: {build_and_count * 1e3:,.1f} ms per spec (build + trace + "
          f"count, median of {repeat})")
    print(f"speed-up: {fvcore / analytic:,.0f}x against counting a built model, "
          f"{build_and_count / analytic:,.0f}x from the spec; same totals: "
          f"{'yes' if same else 'NO'}")
    return 0 if same else 1
