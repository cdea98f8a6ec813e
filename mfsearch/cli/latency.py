"""`mfsearch latency MODEL`: measured inference latency, with where the time goes next to where
the MAdds go; `mfsearch latency-table`: the per-machine block lookup table and its error."""

from __future__ import annotations

import argparse
import json
import shlex
import sys


from .. import defaults
from ..jobs.latency import latency_settings, plan_latency, plan_latency_table
from ..latency.settings import MEMORY_FORMATS, LatencySettings
from ..spec.geometry import size_text
from .analysis import add_model_args, resolution_arg
from ..jobs.common import report_path, writable_dir
from .common import add_engine_arg, positive_float, positive_int, seed_int
from .render import fitted_table, make_console, print_fitted, share


def add_latency_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=positive_int, default=defaults.LATENCY_BATCH, help="batch of the latency figure "
                   "(default 1, as mobile papers measure)")
    p.add_argument("--threads", type=positive_int, default=defaults.LATENCY_THREADS,
                   help="intra-op threads, fixed for reproducible figures (default 1)")
    p.add_argument("--device", choices=("cpu", "cuda"), default=defaults.LATENCY_DEVICE,
                   help="where to time")
    p.add_argument("--memory-format", choices=MEMORY_FORMATS, default=None,
                   help="torch's input layout; auto times both briefly and keeps the faster "
                   "(default: auto, channels_last for a lookup table; contiguous for the "
                   "other engines, which lay out tensors themselves)")
    p.add_argument("--min-time", type=positive_float, default=defaults.LATENCY_MIN_TIME,
                   metavar="S",
                   help="seconds of timed runs per figure (default 1)")
    add_engine_arg(p)


def settings_from(args: argparse.Namespace, memory_format: str = "auto") -> LatencySettings:
    return latency_settings(args.res, args.batch, args.threads, args.device,
                            args.memory_format, args.min_time, args.engine, memory_format)


def register(sub) -> None:
    p = sub.add_parser("latency", help="measured inference latency (median, IQR, throughput) "
                                       "and per-pillar time next to the MAdds shares")
    add_model_args(p)
    add_latency_args(p)
    p.add_argument("--throughput-batch", type=positive_int, default=defaults.THROUGHPUT_BATCH,
                   metavar="B",
                   help="batch for the throughput figure (default 32)")
    p.add_argument("--no-breakdown", action="store_true", help="skip the per-pillar timing")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output")
    p.set_defaults(func=cmd_latency)

    p = sub.add_parser("latency-table", help="fill this machine's block latency lookup table "
                       "and report its prediction error on whole models")
    p.add_argument("--space", help="space whose random specs are predicted and measured "
                   "(default: spaces/mobile_former.yaml)")
    p.add_argument("--specs", type=int, default=8, help="random specs from the space "
                   "(default 8; 0 for the shipped variants only)")
    p.add_argument("--no-variants", action="store_true", help="leave out the family's shipped "
                   "variants")
    p.add_argument("--max-madds", type=positive_float, default=3e9, metavar="N",
                   help="skip shipped variants above N MAdds (default 3e9)")
    p.add_argument("--calibrate", type=int, default=6, metavar="N", help="random specs "
                   "measured whole to fit the table's scale, never among those reported "
                   "(default 6; 0 keeps the table's scale)")
    p.add_argument("--seed", type=seed_int, default=0, help="seeds the random specs (default 0)")
    p.add_argument("--res", type=resolution_arg, default=224, metavar="N",
                   help="input resolution N x N (the table's blocks are square)")
    p.add_argument("--table", metavar="FILE", help="lookup table file (default: one per "
                   "machine and settings under ~/.cache/mfsearch)")
    add_latency_args(p)
    p.add_argument("--report", help="the error report (default: reports/latency_lut.md in a "
                   "checkout of mfsearch)")
    p.set_defaults(func=cmd_latency_table)

    p = sub.add_parser("compare", help="every family's variants side by side: "
                       "params, MAdds, measured latency, published top-1")
    p.add_argument("--res", type=resolution_arg, default=224, metavar="N",
                   help="input resolution N x N")
    add_latency_args(p)
    p.add_argument("--max-madds", type=positive_float, default=5e9, metavar="N",
                   help="skip variants above N MAdds (default 5e9: all but iFormer-H)")
    p.add_argument("--out", help="folder for the table and plot (default: reports/families in "
                   "a checkout of mfsearch)")
    p.set_defaults(func=cmd_compare)


def settings_line(report) -> str:
    s, m = report.settings, report.machine
    return (f"{report.engine}, batch {s['batch']}, {size_text(s['resolution'])}, {s['threads']} thread(s), "
            f"{s['device']}, {report.memory_format}, BN folded, inference mode, "
            f"{report.latency.runs} runs of >= {s['min_time']:g}s after {s['warmup']} warm-up; "
            f"{m['cpu']}" + (f" / {m['gpu']}" if m["gpu"] and s["device"] == "cuda" else "")
            + f"; torch {m['torch']}")


def latency_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch latency`'s options as the inputs of `mfsearch.jobs.plan_latency`."""
    return {"model": args.model, "weights": args.weights, "resolution": args.res,
            "backbone": args.backbone, "overrides": args.overrides, "batch": args.batch,
            "threads": args.threads, "device": args.device,
            "memory_format": args.memory_format, "min_time": args.min_time,
            "engine": args.engine, "throughput_batch": args.throughput_batch,
            "breakdown": not args.no_breakdown}


def cmd_latency(args: argparse.Namespace) -> int:
    import pandas as pd

    job = plan_latency(**latency_inputs(args))
    settings = job.settings
    result = job.run()
    name, report, cost, frame = result.name, result.report, result.cost, result.frame
    for warning in result.warnings:
        print(f"mfsearch: warning: {warning}", file=sys.stderr)
    if args.format == "json":
        data = report.to_dict()
        data["warnings"] = result.warnings
        data["madds"] = cost.madds("paper")
        data["params"] = cost.params
        if frame is not None:
            data["pillars"] = frame.to_dict(orient="records")
        print(json.dumps(data, indent=2))
        return 0
    if args.format == "csv":
        if frame is None:
            frame = pd.DataFrame(columns=["pillar", "ms", "time_share", "madds", "madds_share"])
        frame.insert(0, "model", name)
        frame.insert(1, "median_ms", report.latency.median_ms)
        frame.to_csv(sys.stdout, index=False)
        return 0
    console = make_console()
    t = report.latency
    console.print(f"[bold]{name}[/]: median {t.median_ms:.3f} ms (IQR {t.iqr_ms:.3f} ms) "
                  f"at batch {settings.batch}, {report.per_image_ms:.3f} ms per image; "
                  f"{cost.params / 1e6:.3f}M params, {cost.madds('paper') / 1e6:.1f}M MAdds",
                  highlight=False)
    if report.throughput:
        tp = report.throughput
        console.print(f"throughput: {tp['images_per_s']:.1f} images/s at batch {tp['batch']} "
                      f"({tp['median_ms']:.2f} ms per batch)", highlight=False)
    console.print(f"settings: {settings_line(report)}", highlight=False)
    for note in report.notes:
        console.print(f"{settings.engine}: {note}", highlight=False)
    if frame is not None:
        rows = [[r.pillar, f"{r.ms:.3f}", share(r.ms, frame.ms.sum()), f"{r.madds / 1e6:.2f}",
                 share(r.madds, cost.madds('paper'))] for r in frame.itertuples()]
        table, dropped = fitted_table(
            console, f"{name}: where the time goes vs where the MAdds go",
            [("pillar", None), ("ms", None), ("time %", None), ("MAdds (M)", 1),
             ("MAdds %", None)], rows)
        print_fitted(console, table, dropped)
        from ..deploy import get_engine

        console.print(f"per-pillar times: {get_engine(settings.engine).pillar_note}",
                      highlight=False)
    return 0


def latency_table_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch latency-table`'s options as the inputs of `plan_latency_table`."""
    return {"space": args.space, "specs": args.specs, "variants": not args.no_variants,
            "max_madds": args.max_madds, "calibrate": args.calibrate, "seed": args.seed,
            "resolution": args.res, "table": args.table, "batch": args.batch,
            "threads": args.threads, "device": args.device,
            "memory_format": args.memory_format, "min_time": args.min_time,
            "engine": args.engine, "report": args.report,
            "command": shlex.join(["mfsearch", *args.argv])}


def cmd_latency_table(args: argparse.Namespace) -> int:
    job = plan_latency_table(**latency_table_inputs(args))
    console = make_console(soft_wrap=True)
    s = job.run(lambda m: console.print(m, highlight=False))
    console.print(f"median absolute error {s['median_abs_error_pct']:.1f}% (max "
                  f"{s['max_abs_error_pct']:.1f}%); Kendall tau vs measured: table "
                  f"{s['kendall_lut']:+.3f}, MAdds {s['kendall_madds']:+.3f}; wrote "
                  f"{job.report}", highlight=False)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ..latency.measure import machine
    from ..reports import families

    settings = settings_from(args)
    out = writable_dir(report_path(args.out, "reports/families"))
    console = make_console(soft_wrap=True)
    frame = families.measure_families(settings, args.max_madds,
                                      log=lambda m: console.print(m, highlight=False))
    path = families.write(frame, settings, machine(), out, shlex.join(["mfsearch", *args.argv]))
    console.print(f"wrote {path}, {out / 'side_by_side.csv'}, {out / 'madds_vs_latency.png'}",
                  highlight=False)
    return 0
