"""`mfsearch variants`, `mfsearch cost` and `mfsearch check`: where the multiply-adds go."""

from __future__ import annotations

import argparse
import sys

from rich.table import Table

from ..cost.check import check_spec
from ..cost.counts import CONVENTIONS, DEFAULT_CONVENTION
from ..families import DEFAULT_FAMILY, all_families, analyze, get_family
from ..reports.published import published_by_name
from ..spec import apply_overrides, load_model_spec, variant_names
from ..spec.geometry import MAX_RESOLUTION, MIN_RESOLUTION
from ..cost.frame import cost_frame
from .render import cost_json, make_console, millions, print_cost


def resolution_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer resolution, got {text!r}") from None
    if not MIN_RESOLUTION <= value <= MAX_RESOLUTION:
        raise argparse.ArgumentTypeError(
            f"resolution must be between {MIN_RESOLUTION} and {MAX_RESOLUTION}, got {value}")
    return value


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="variant name (e.g. mobile-former-294m, 294m, iformer-m) "
                                      "or a spec YAML file")
    parser.add_argument("--res", type=resolution_arg, default=224, metavar="N",
                        help="input resolution N x N (default 224)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a spec field, e.g. tokens=1, "
                        "token_dim=64, former_ffn=false, blocks.3.out=64 (repeatable)")


def model_spec(args: argparse.Namespace):
    return apply_overrides(load_model_spec(args.model), args.overrides)


def register(sub) -> None:
    p = sub.add_parser("variants", help="the shipped variants of a family with params and MAdds")
    p.add_argument("--family", choices=list(all_families()), default=DEFAULT_FAMILY)
    p.add_argument("--res", type=resolution_arg, default=224, metavar="N")
    p.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION)
    p.set_defaults(func=cmd_variants)

    p = sub.add_parser("cost", help="analytic params and MAdds per pillar and per block")
    add_model_args(p)
    p.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION,
                   help="how MAdds are counted (default paper)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_cost)

    p = sub.add_parser("check", help="cross-check the analytic counts against fvcore on the "
                                     "torch model (exit 0 only if they agree exactly)")
    add_model_args(p)
    p.set_defaults(func=cmd_check)


def cmd_variants(args: argparse.Namespace) -> int:
    conv = args.convention
    family = get_family(args.family)
    table = Table(title=f"{family.title} variants @ {args.res}x{args.res} ({conv} MAdds)")
    for col in ("variant", "blocks", "params", "MAdds", "published params", "published MAdds",
                "MAdds vs published", "top-1"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    published = published_by_name()
    for name in variant_names(family.name):
        spec = load_model_spec(name)
        cost = analyze(spec, args.res)
        paper = published.get(family.published_name(name))
        madds = cost.madds(conv)
        vs = (f"{100 * (madds / 1e6 / paper['madds_M'] - 1):+.2f}%"
              if paper is not None and args.res == 224 else "-")
        table.add_row(name, str(spec.depth), f"{cost.params:,}", f"{millions(madds)}M",
                      *((f"{paper['params_M']:g}M", f"{paper['madds_M']:g}M", vs,
                         f"{paper['top1']:g}") if paper is not None else ("-",) * 4))
    make_console().print(table)
    print(f"convention {conv}: {CONVENTIONS[conv]}")
    print("published: params, MAdds and top-1 as the family's paper prints them "
          "(mfsearch/reports/data/published_imagenet.csv)")
    return 0


def cmd_cost(args: argparse.Namespace) -> int:
    spec = model_spec(args)
    cost = analyze(spec, args.res)
    if args.format == "json":
        print(cost_json(cost, args.convention))
    elif args.format == "csv":
        cost_frame(cost, args.convention).to_csv(sys.stdout, index=False)
    else:
        print_cost(make_console(), cost, args.convention)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    spec = model_spec(args)
    result = check_spec(spec, args.res)
    console = make_console()
    mark = lambda a, b: "ok" if a == b else "MISMATCH"  # noqa: E731
    for conv in result.conventions:
        table = Table(title=f"{spec.name} @ {args.res}: analytic vs fvcore ({conv.convention} "
                            "MAdds)")
        for col in ("pillar", "analytic", "fvcore", "diff", ""):
            table.add_column(col, justify="left" if col == "pillar" else "right")
        for name, (ours, theirs) in conv.pillars.items():
            table.add_row(name, f"{ours:,}", f"{theirs:,}", f"{ours - theirs:+,}",
                          mark(ours, theirs))
        ours, theirs = conv.total
        table.add_section()
        table.add_row("total", f"{ours:,}", f"{theirs:,}", f"{ours - theirs:+,}",
                      mark(ours, theirs), style="bold")
        console.print(table)
        if conv.unattributed:
            console.print(f"fvcore counted {conv.unattributed:,} MAdds outside any pillar")
    analytic, torch_params = result.params
    console.print(f"params: analytic {analytic:,}, torch {torch_params:,} "
                  f"({mark(analytic, torch_params)})", highlight=False)
    console.print("agree exactly" if result.ok else "DISAGREE",
                  style="bold green" if result.ok else "bold red")
    return 0 if result.ok else 1
