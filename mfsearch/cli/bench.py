"""`mfsearch bench cost`: how much faster the analytic cost model is than tracing with fvcore."""

from __future__ import annotations

import argparse

from .analysis import add_model_args, model_spec


def register(sub) -> None:
    bench = sub.add_parser("bench", help="benchmarks").add_subparsers(dest="bench", metavar="BENCH")
    bench.required = True
    p = bench.add_parser("cost", help="analytic cost model vs fvcore on the same spec")
    add_model_args(p, weights=False, backbone=False)
    p.add_argument("--repeat", type=int, default=5, help="fvcore runs (default 5)")
    p.set_defaults(func=cmd_bench_cost)


def cmd_bench_cost(args: argparse.Namespace) -> int:
    from ..cost.bench import bench_cost

    spec = model_spec(args)
    b = bench_cost(spec, args.res, args.repeat)
    print(f"spec {spec.name} @ {args.res}x{args.res}; {b.machine}")
    print(f"analytic cost model: {b.analytic_s * 1e6:,.1f} us per spec (median of 7 x "
          f"{b.inner} calls)")
    print(f"fvcore, model built: {b.fvcore_s * 1e3:,.1f} ms per spec (trace + count, median of "
          f"{b.repeat})")
    print(f"fvcore from the spec: {b.build_and_count_s * 1e3:,.1f} ms per spec (build + trace + "
          f"count, median of {b.repeat})")
    print(f"speed-up: {b.speedup:,.0f}x against counting a built model, "
          f"{b.speedup_from_spec:,.0f}x from the spec; same totals: "
          f"{'yes' if b.same_totals else 'NO'}")
    return 0 if b.same_totals else 1
