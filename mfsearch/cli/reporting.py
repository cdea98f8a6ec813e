"""`mfsearch ablate`, `mfsearch plot` and `mfsearch report`: the paper's tables and figures,
regenerated from our specs and the published results shipped with the package."""

from __future__ import annotations

import argparse


from ..cost.counts import CONVENTIONS, DEFAULT_CONVENTION
from .analysis import size_arg
from ..jobs.ablate import plan_ablate
from ..jobs.common import quiet_libraries, report_path, writable_dir
from .common import add_proxy_args, positive_int, proxy_inputs
from .render import fitted_table, make_console, print_fitted


def register(sub) -> None:
    p = sub.add_parser("ablate", help="regenerate the paper's tables 2 and 4-9 from "
                                      "spec switches")
    p.add_argument("--table", default="all", help="2, 4, 5, 6, 7, 8, 9, several separated "
                   "by commas (5,6,7,8,9), or all (default)")
    p.add_argument("--model", help="base model of Tables 5-9 "
                   "(variant name or spec YAML; default mobile-former-294m)")
    p.add_argument("--res", type=size_arg, default=None, metavar="N|HxW",
                   help="input size (default 224, and 800x1333 for Table 4)")
    p.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION,
                   help="how MAdds are counted")
    p.add_argument("--train", action="store_true", help="add a proxy top-1 column from our own "
                   "short training of every row; with all of Tables 5-9, also agreement.md/.json: "
                   "how the proxy's ranking agrees with the paper's top-1 and its findings")
    p.add_argument("--seeds", type=positive_int, default=1, help="proxy trainings of each row "
                   "(seeds --seed onwards; every training is kept in trainings.jsonl, so a rerun "
                   "trains only what is missing)")
    p.add_argument("--out", help="folder for tableN.md/.csv (default: reports/ablations in a "
                   "checkout of mfsearch)")
    add_proxy_args(p)
    p.set_defaults(func=cmd_ablate)

    p = sub.add_parser("plot", help="published top-1 vs MAdds/params/latency, a study's front, "
                                    "and MAdds per pillar")
    p.add_argument("--out", help="folder for the PNG and SVG files (default: reports/plots in "
                   "a checkout of mfsearch)")
    p.add_argument("--study", help="a search output folder (with trials.csv) to plot")
    p.add_argument("--families", help="comma-separated model families, or all (default: "
                   "Mobile-Former and the common efficient families)")
    p.add_argument("--logx", action="store_true", help="log-scaled cost axes, all models shown")
    p.add_argument("--max-madds", type=float, default=1000.0, metavar="M",
                   help="without --logx, show models up to M million MAdds (default 1000)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("report", help="regenerate everything in reports/ that needs no training")
    p.add_argument("--out", help="the reports folder to regenerate (default: reports in a "
                   "checkout of mfsearch)")
    p.set_defaults(func=cmd_report)


def _print_table(console, result) -> None:
    import pandas as pd

    rows = []
    for _, r in result.frame.iterrows():
        cells = []
        for col, v in r.items():
            if pd.isna(v):
                cells.append("")
            elif col in ("params", "madds"):
                cells.append(f"{v / 1e6:.2f}M")
            else:
                cells.append(f"{v:g}" if isinstance(v, float) else str(v))
        rows.append(cells)
    optional = ("paper top-5", "paper params (M)", "paper MAdds (M)")
    columns = [(str(c).replace(" ", "\n", 1), optional.index(c) if c in optional else None)
               for c in result.frame.columns]
    table, dropped = fitted_table(console, f"Table {result.table.id}: {result.table.title} "
                                  f"(base {result.base})", columns, rows)
    print_fitted(console, table, dropped, f"; table{result.table.id}.md has every column")


def ablate_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch ablate`'s options as the inputs of `mfsearch.jobs.plan_ablate`."""
    given = proxy_inputs(args)
    return {"table": args.table, "model": args.model, "resolution": args.res,
            "convention": args.convention, "train": args.train, "seeds": args.seeds,
            "out": args.out, **given}


def cmd_ablate(args: argparse.Namespace) -> int:
    job = plan_ablate(**ablate_inputs(args))
    console = make_console()
    done = job.run(lambda m: console.print(m, highlight=False))
    for result in done["results"]:
        _print_table(console, result)
        if result.table.note:
            console.print(result.table.note, highlight=False)
    record = done["agreement"]
    if record is not None:
        console.print(f"agreement with the paper ({record['variants']} variants, "
                      f"{record['seeds']} seed(s)): {record['pairs_agree']} of {record['pairs']} "
                      f"pairs in the paper's order, Kendall tau {record['tau']} (#params alone: "
                      f"{record['baselines']['params']['pairs_agree']} of "
                      f"{record['baselines']['params']['pairs']}); findings: "
                      + ", ".join(f"{k} {v}" for k, v in record["findings"].items()),
                      highlight=False)
    console.print(f"wrote {len(done['written'])} files to {job.out}", highlight=False)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from ..reports.plots import draw_all, read_study

    quiet_libraries()  # the study's front is drawn through in-memory Optuna studies
    trials = read_study(args.study) if args.study else None  # fails before any file is made
    out = writable_dir(report_path(args.out, "reports/plots"))
    paths = draw_all(out, args.families, args.logx, args.max_madds, args.study, trials)
    make_console(soft_wrap=True).print("wrote " + ", ".join(str(p) for p in paths),
                                       highlight=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..reports.index import regenerate

    out = writable_dir(report_path(args.out, "reports"))
    written = regenerate(out)
    make_console(soft_wrap=True).print(f"regenerated {len(written)} files under {out}",
                                       highlight=False)
    return 0
