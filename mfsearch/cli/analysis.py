"""`mfsearch variants`, `mfsearch cost` and `mfsearch check`: where the multiply-adds go."""

from __future__ import annotations

import argparse
import json
import sys


from ..cost.counts import CONVENTIONS, DEFAULT_CONVENTION
from ..families import (DEFAULT_FAMILY, all_families, get_family, load_model_spec,
                        named_overrides)
from .. import defaults
from ..jobs.learn import plan_variants_learn
from ..jobs.models import plan_check, plan_cost
from ..errors import UserError
from ..spec.geometry import parse_resolution, size_label, size_text
from .common import add_proxy_args, positive_int, proxy_inputs
from .render import cost_json, fitted_table, make_console, print_cost, print_fitted


def size_arg(text: str):
    """N (a square input) or HxW (height x width, e.g. 800x1333 as detectors take)."""
    try:
        return parse_resolution(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def resolution_arg(text: str) -> int:
    """N: a square input (commands whose tables and studies are keyed by one side)."""
    value = size_arg(text)
    if not isinstance(value, int):
        raise argparse.ArgumentTypeError(f"this command takes one number N (an N x N input), "
                                         f"got {text!r}")
    return value


def add_model_args(parser: argparse.ArgumentParser, weights: bool = True,
                   backbone: bool = True) -> None:
    parser.add_argument("model", help="variant name (e.g. mobile-former-294m, 294m, iformer-m) "
                                      "or a spec YAML file")
    if weights:
        parser.add_argument("--weights", metavar="FILE", help="load this checkpoint (official "
                            "Mobile-Former .pth/.pth.tar, a timm iFormer or MobileNetV3 state "
                            "dict or .safetensors, or mfsearch's own); default: random weights")
    if backbone:
        parser.add_argument("--backbone", action="store_true", help="the detection backbone: "
                            "no classifier head, the stride-8/16/32 feature maps out")
    parser.add_argument("--res", type=size_arg, default=224, metavar="N|HxW",
                        help="input size: N for N x N, or height x width (800x1333)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a spec field, e.g. tokens=1, "
                        "token_dim=64, former_ffn=false, blocks.3.out=64 (repeatable)")


def model_spec(args: argparse.Namespace):
    """The model a command names, with its `--set` overrides (named in its title and JSON)."""
    return named_overrides(load_model_spec(args.model), args.overrides)


def register(sub) -> None:
    p = sub.add_parser("variants", help="the shipped variants of a family with params and "
                       "MAdds; with --train, whether each learns under the default proxy")
    p.add_argument("--family", choices=[*all_families(), "all"], default=None,
                   help=f"whose shipped variants (default: {DEFAULT_FAMILY}; with --train, all)")
    p.add_argument("--res", type=size_arg, default=224, metavar="N|HxW",
                   help="input size: N for N x N, or height x width (800x1333)")
    p.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION,
                   help="how MAdds are counted")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output")
    g = p.add_argument_group("learning check (--train)")
    g.add_argument("--train", action="store_true", help="train every variant with its "
                   "family's default proxy settings and say whether it learned (final training "
                   f"loss under {defaults.LEARNED_MARGIN:g} x ln(classes) and held-out top-1 "
                   "above chance); writes learn.md and learn.json")
    g.add_argument("--seeds", type=positive_int, default=defaults.LEARN_SEEDS,
                   help="proxy trainings of each variant (every training is kept in "
                   "trainings.jsonl, so a rerun trains only what is missing)")
    g.add_argument("--out", help="folder for learn.md/.json (default: "
                   "reports/external_validity/variants-TASK in a checkout of mfsearch)")
    add_proxy_args(g)
    p.set_defaults(func=cmd_variants)

    p = sub.add_parser("cost", help="analytic params and MAdds per pillar and per block")
    add_model_args(p, weights=False)
    p.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION,
                   help="how MAdds are counted")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output")
    p.set_defaults(func=cmd_cost)

    p = sub.add_parser("check", help="cross-check the analytic counts against fvcore on the "
                                     "torch model (exit 0 only if they agree exactly)")
    add_model_args(p)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output")
    p.set_defaults(func=cmd_check)


def cmd_variants(args: argparse.Namespace) -> int:
    from ..reports.variants import variant_rows

    if args.train:
        return _learn(args)
    names = list(all_families()) if args.family == "all" else [args.family or DEFAULT_FAMILY]
    if args.format == "json":
        listed = [{"family": get_family(name).name, "resolution": size_label(args.res),
                   "convention": args.convention,
                   "variants": variant_rows(name, args.res, args.convention)}
                  for name in names]
        print(json.dumps(listed[0] if len(listed) == 1 else listed, indent=2))
        return 0
    for name in names:
        _print_variants(name, args.res, args.convention)
    return 0


def _learn(args: argparse.Namespace) -> int:
    job = plan_variants_learn(family=args.family or "all", seeds=args.seeds, out=args.out,
                             **proxy_inputs(args))
    console = make_console()
    record = job.run(lambda m: console.print(m, highlight=False))
    learned = sum(v["learned"] for v in record["variants"].values())
    console.print(f"{learned} of {len(record['variants'])} variants learned on {record['task']}; "
                  f"wrote {job.out / 'learn.md'} and learn.json", highlight=False)
    return 0


def _print_variants(family_name: str, res, conv: str) -> None:
    from ..reports.variants import variant_rows

    family = get_family(family_name)
    rows = variant_rows(family.name, res, conv)
    dash = lambda v, fmt: "-" if v is None else fmt.format(v)  # noqa: E731
    rows = [[r["variant"], str(r["blocks"]), f"{r['params']:,}",
             f"{r['madds'] / 1e6:,.3f}M", dash(r["published_params_M"], "{:g}M"),
             dash(r["published_madds_M"], "{:g}M"), dash(r["madds_vs_published_pct"], "{:+.2f}%"),
             dash(r["top1"], "{:g}")] for r in rows]
    console = make_console()
    table, dropped = fitted_table(
        console, f"{family.display.title} variants @ {size_text(res)} ({conv} MAdds)",
        [("variant", None), ("blocks", 1), ("params", None), ("MAdds", None),
         ("paper\nparams", 3), ("paper\nMAdds", 4), ("vs\npaper", 5), ("paper\ntop-1", 2)],
        rows)
    print_fitted(console, table, dropped, "; --format json has every column")
    console.print(f"convention {conv}: {CONVENTIONS[conv]}", highlight=False)
    console.print("paper: params, MAdds and top-1 as the family's paper prints them "
                  "(mfsearch/reports/data/published_imagenet.csv)", highlight=False)


def cost_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch cost`'s options as the inputs of `mfsearch.jobs.plan_cost`."""
    return {"model": args.model, "resolution": args.res, "convention": args.convention,
            "overrides": args.overrides, "backbone": args.backbone}


def check_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch check`'s options as the inputs of `mfsearch.jobs.plan_check`."""
    return {"model": args.model, "resolution": args.res, "overrides": args.overrides,
            "backbone": args.backbone, "weights": args.weights}


def cmd_cost(args: argparse.Namespace) -> int:
    cost = plan_cost(**cost_inputs(args)).run()
    if args.format == "json":
        print(cost_json(cost.analysis, cost.convention))
    elif args.format == "csv":
        cost.to_frame().to_csv(sys.stdout, index=False)
    else:
        print_cost(make_console(), cost.analysis, cost.convention)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    job = plan_check(**check_inputs(args))
    spec, result = job.spec, job.run()
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
        return 0 if result.ok else 1
    console = make_console()
    mark = lambda a, b: "ok" if a == b else "MISMATCH"  # noqa: E731
    for conv in result.conventions:
        rows = [[name, f"{ours:,}", f"{theirs:,}", f"{ours - theirs:+,}", mark(ours, theirs)]
                for name, (ours, theirs) in conv.pillars.items()]
        ours, theirs = conv.total
        rows.append(["total", f"{ours:,}", f"{theirs:,}", f"{ours - theirs:+,}",
                     mark(ours, theirs)])
        table, dropped = fitted_table(
            console, f"{spec.name}{' backbone' if args.backbone else ''} @ "
            f"{size_text(args.res)}: analytic vs fvcore ({conv.convention} MAdds)",
            [("pillar", None), ("analytic", None), ("fvcore", None), ("diff", 1), ("", None)],
            rows, sections=(len(rows) - 1,))
        print_fitted(console, table, dropped)
        if conv.unattributed:
            console.print(f"fvcore counted {conv.unattributed:,} MAdds outside any pillar")
    analytic, torch_params = result.params
    console.print(f"params: analytic {analytic:,}, torch {torch_params:,} "
                  f"({mark(analytic, torch_params)})", highlight=False)
    console.print("agree exactly" if result.ok else "DISAGREE",
                  style="bold green" if result.ok else "bold red")
    return 0 if result.ok else 1
