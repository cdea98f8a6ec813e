"""`mfsearch ablate`, `mfsearch plot` and `mfsearch report`: the paper's tables and figures,
regenerated from our specs and the published results shipped with the package."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from rich.table import Table

from .. import data as datasets
from ..cost.counts import CONVENTIONS, DEFAULT_CONVENTION
from ..errors import UserError
from ..proxy.train import TrainingDiverged, train_proxy
from ..reports import ablations, plots
from ..reports.index import write_index
from ..reports.published import load_published, pick_families, primary
from ..spec import load_model_spec
from .analysis import resolution_arg
from .common import add_proxy_args, proxy_config, writable_dir
from .render import make_console


def register(sub) -> None:
    p = sub.add_parser("ablate", help="regenerate the paper's ablation tables (2, 5-9) from "
                                      "spec switches")
    p.add_argument("--table", default="all", help="2, 5, 6, 7, 8, 9 or all (default)")
    p.add_argument("--model", default=ablations.DEFAULT_BASE, help="base model of Tables 5-9 "
                   "(variant name or spec YAML; default mobile-former-294m)")
    p.add_argument("--res", type=resolution_arg, default=224, metavar="N")
    p.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION)
    p.add_argument("--train", action="store_true", help="add a proxy top-1 column from our own "
                   "short training of every row")
    p.add_argument("--out", default="reports/ablations", help="folder for tableN.md/.csv")
    add_proxy_args(p)
    p.set_defaults(func=cmd_ablate)

    p = sub.add_parser("plot", help="published top-1 vs MAdds/params/latency, a study's front, "
                                    "and MAdds per pillar")
    p.add_argument("--out", default="reports/plots", help="folder for the PNG and SVG files")
    p.add_argument("--study", help="a search output folder (with trials.csv) to plot")
    p.add_argument("--families", help="comma-separated model families, or all (default: "
                   "Mobile-Former and the common efficient families)")
    p.add_argument("--logx", action="store_true", help="log-scaled cost axes, all models shown")
    p.add_argument("--max-madds", type=float, default=1000.0, metavar="M",
                   help="without --logx, show models up to M million MAdds (default 1000)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("report", help="regenerate everything in reports/ that needs no training")
    p.add_argument("--out", default="reports")
    p.set_defaults(func=cmd_report)


def _rich_table(result: ablations.TableResult) -> Table:
    table = Table(title=f"Table {result.table.id}: {result.table.title} (base {result.base})")
    for col in result.frame.columns:
        table.add_column(col, justify="left" if col == "row" else "right")
    for _, r in result.frame.iterrows():
        cells = []
        for col, v in r.items():
            if pd.isna(v):
                cells.append("")
            elif col in ("params", "madds"):
                cells.append(f"{v / 1e6:.2f}M")
            else:
                cells.append(f"{v:g}" if isinstance(v, float) else str(v))
        table.add_row(*cells)
    return table


def write_tables(results, out: Path, convention: str, resolution: int,
                 proxy_note: str = "") -> list[Path]:
    paths = []
    for result in results:
        stem = out / f"table{result.table.id}"
        result.frame.to_csv(stem.with_suffix(".csv"), index=False)
        stem.with_suffix(".md").write_text(
            ablations.to_markdown(result, convention, resolution, proxy_note), encoding="utf-8")
        paths += [stem.with_suffix(".md"), stem.with_suffix(".csv")]
    return paths


def _trainer(args: argparse.Namespace, console):
    """A row -> proxy top-1 function on the chosen data, and the note that explains the column."""
    data = datasets.load(args.data, seed=args.seed)
    cfg = proxy_config(args)
    note = (f"proxy top-1: our short training on {data.name} ({cfg.steps} steps, batch "
            f"{cfg.batch_size}, {cfg.resolution}px, lr {cfg.lr:g}, seed {cfg.seed}); it ranks "
            "rows on that data and is not ImageNet accuracy.")

    def train(spec) -> float:
        console.print(f"training {spec.name} ...", highlight=False)
        try:
            return train_proxy(spec, data, cfg).accuracy
        except TrainingDiverged as exc:
            console.print(f"  {spec.name}: {exc}; top-1 recorded as NaN", highlight=False)
            return float("nan")

    return train, note


def cmd_ablate(args: argparse.Namespace) -> int:
    tables = ablations.select(args.table)
    load_model_spec(args.model)  # a bad base model fails before any work
    out = writable_dir(Path(args.out))
    console = make_console()
    train, note = _trainer(args, console) if args.train else (None, "")
    results = []
    for table in tables:
        result = ablations.regenerate(table, args.model, args.res, args.convention, train)
        results.append(result)
        console.print(_rich_table(result))
        if table.note:
            console.print(table.note, highlight=False)
    written = write_tables(results, out, args.convention, args.res, note)
    console.print(f"wrote {len(written)} files to {out}", highlight=False)
    return 0


STUDY_COLUMNS = {"state", "madds", "proxy_score"}


def read_study(folder: str) -> pd.DataFrame:
    """trials.csv of a search output folder, checked before any drawing starts."""
    path = Path(folder) / "trials.csv"
    if not path.is_file():
        raise UserError(f"--study {folder}: no trials.csv there (is it a search --out folder?)")
    try:
        trials = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"--study {path}: unreadable trials.csv ({exc.__class__.__name__})") \
            from None
    missing = STUDY_COLUMNS - set(trials.columns)
    if missing:
        raise UserError(f"--study {path}: not a search trials.csv (missing columns "
                        f"{', '.join(sorted(missing))})")
    return trials


def draw_all(out: Path, families_arg: str | None = None, logx: bool = False,
             max_madds: float | None = 1000.0, study: str | None = None,
             trials: pd.DataFrame | None = None) -> list[Path]:
    """Every figure; the study panel when `trials` (read from the `study` folder) is given."""
    everything = load_published(primary_only=False)
    frame = primary(everything)
    families = pick_families(frame, [f.strip() for f in families_arg.split(",")]
                             if families_arg else None)
    limit = None if logx else max_madds
    paths = plots.plot_published(frame, families, "madds", out / "published_madds", logx, limit)
    paths += plots.plot_published(frame, families, "params", out / "published_params", logx)
    paths += plots.plot_latency(everything, families, out / "published_latency", logx=logx)
    paths += plots.plot_pillars(out / "pillars")
    if trials is not None:
        paths += plots.plot_study(trials, out / "study", Path(study).name)
    return paths


def cmd_plot(args: argparse.Namespace) -> int:
    trials = read_study(args.study) if args.study else None  # fails before any file is made
    out = writable_dir(Path(args.out))
    paths = draw_all(out, args.families, args.logx, args.max_madds, args.study, trials)
    make_console(soft_wrap=True).print("wrote " + ", ".join(str(p) for p in paths),
                                       highlight=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    out = writable_dir(Path(args.out))
    console = make_console(soft_wrap=True)
    results = [ablations.regenerate(t) for t in ablations.select("all")]
    written = write_tables(results, writable_dir(out / "ablations"), DEFAULT_CONVENTION, 224)
    written += draw_all(out / "plots")
    written.append(write_index(out))
    console.print(f"regenerated {len(written)} files under {out}", highlight=False)
    return 0
