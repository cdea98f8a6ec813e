"""`mfsearch ablate`, `mfsearch plot` and `mfsearch report`: the paper's tables and figures,
regenerated from our specs and the published results shipped with the package."""

from __future__ import annotations

import argparse


from ..cost.counts import CONVENTIONS, DEFAULT_CONVENTION
from ..families import load_model_spec
from .analysis import size_arg
from ..jobs.common import (data_source, proxy_settings, quiet_optuna, report_path,
                           writable_dir)
from .common import add_proxy_args, proxy_inputs
from .render import fitted_table, make_console, print_fitted


def register(sub) -> None:
    p = sub.add_parser("ablate", help="regenerate the paper's tables 2 and 4-9 from "
                                      "spec switches")
    p.add_argument("--table", default="all", help="2, 4, 5, 6, 7, 8, 9 or all (default)")
    p.add_argument("--model", help="base model of Tables 5-9 "
                   "(variant name or spec YAML; default mobile-former-294m)")
    p.add_argument("--res", type=size_arg, default=None, metavar="N|HxW",
                   help="input size (default 224, and 800x1333 for Table 4)")
    p.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION,
                   help="how MAdds are counted")
    p.add_argument("--train", action="store_true", help="add a proxy top-1 column from our own "
                   "short training of every row")
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


def cmd_ablate(args: argparse.Namespace) -> int:
    from ..reports import ablations

    args.model = args.model or ablations.DEFAULT_BASE
    tables = ablations.select(args.table)
    load_model_spec(args.model)  # a bad base model fails before any work
    out = writable_dir(report_path(args.out, "reports/ablations"))
    console = make_console()
    train, note = None, ""
    if args.train:
        given = proxy_inputs(args)
        proxy = proxy_settings(given["proxy"], given["seed"], given["device"])
        data = data_source(given["data"], given["val_fraction"], given["seed"], proxy,
                           max_images=given["max_images"],
                           skip_bad=given["skip_bad_images"]).load()
        train, note = ablations.proxy_trainer(data, proxy,
                                              lambda m: console.print(m, highlight=False))
    results = []
    for table in tables:
        result = ablations.regenerate(table, args.model, args.res, args.convention, train)
        results.append(result)
        _print_table(console, result)
        if table.note:
            console.print(table.note, highlight=False)
    written = ablations.write_tables(results, out, args.convention, note)
    console.print(f"wrote {len(written)} files to {out}", highlight=False)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from ..reports.plots import draw_all, read_study

    quiet_optuna()  # the study's front is drawn through in-memory Optuna studies
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
