"""`mfsearch export`: the deployed model as an ONNX or ExecuTorch file, checked against torch
in its own runtime; `mfsearch engines`: every variant in every engine (reports/engines)."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..errors import UserError
from .. import defaults
from ..jobs.common import report_path, writable_dir
from ..jobs.models import plan_export
from .analysis import add_model_args
from .common import positive_float, positive_int
from .render import make_console

FORMATS = ("onnx", "executorch")


def register(sub) -> None:
    p = sub.add_parser("export", help="export the deployed model (BN folded, eval) to ONNX or "
                       "ExecuTorch (XNNPACK) and compare it with torch in that runtime")
    add_model_args(p)
    p.add_argument("--format", choices=FORMATS, required=True, help="onnx: opset 18, dynamic "
                   "batch, checked in ONNX Runtime; executorch: a .pte lowered to XNNPACK, "
                   "static batch, checked in ExecuTorch's runtime")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    p.add_argument("--batch", type=positive_int, default=defaults.LATENCY_BATCH,
                   help="the batch an ExecuTorch "
                   "program runs at (ONNX keeps the batch dynamic) (default: 1)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("engines", help="every shipped variant exported, checked and timed in "
                       "each engine, with per-pillar shares (reports/engines)")
    p.add_argument("--engines", default="torch,onnxruntime,executorch", metavar="A,B",
                   help="comma-separated engines")
    p.add_argument("--max-madds", type=positive_float, default=float("inf"), metavar="N",
                   help="skip variants above N MAdds (default: none skipped)")
    p.add_argument("--threads", type=positive_int, default=1, help="intra-op threads "
                   "(default 1)")
    p.add_argument("--min-time", type=positive_float, default=1.0, metavar="S",
                   help="seconds of timed runs per figure (default 1)")
    p.add_argument("--out", help="folder for the tables and plot (default: reports/engines in "
                   "a checkout of mfsearch)")
    p.set_defaults(func=cmd_engines)


def export_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch export`'s options as the inputs of `mfsearch.jobs.plan_export`."""
    return {"model": args.model, "format": args.format, "out": args.out,
            "weights": args.weights, "resolution": args.res, "backbone": args.backbone,
            "batch": args.batch, "overrides": args.overrides}


def cmd_export(args: argparse.Namespace) -> int:
    from ..deploy import engine_for_format

    job = plan_export(**export_inputs(args))
    engine = engine_for_format(job.format)
    name = f"{job.spec.name} backbone" if job.backbone else job.spec.name
    result = job.run()
    console = make_console(soft_wrap=True)
    console.print(f"wrote {result.path} ({result.size_bytes / 2**20:.1f} MiB, exported in "
                  f"{result.seconds:.1f} s): {'; '.join(result.notes)}", highlight=False)
    console.print(result.summary(), highlight=False)
    if not result.ok:
        print(f"mfsearch: error: {name} in {engine.name} differs from torch by "
              f"{result.max_rel:.2e} relative, above {result.tolerance:.0e}", file=sys.stderr)
        return 1
    return 0


def cmd_engines(args: argparse.Namespace) -> int:
    from ..deploy import get_engine
    from ..reports import engines

    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    if not names:
        raise UserError("--engines: name at least one engine")
    chosen = [get_engine(n) for n in names]
    out = writable_dir(report_path(args.out, "reports/engines"))
    console = make_console(soft_wrap=True)
    frame = engines.measure_engines(chosen, args.threads, args.min_time, args.max_madds,
                                    log=lambda m: console.print(m, highlight=False))
    path = engines.write(frame, out, shlex.join(["mfsearch", *args.argv]), args.threads,
                         args.min_time)
    console.print(f"wrote {path}", highlight=False)
    return 0
