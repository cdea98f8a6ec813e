"""`mfsearch attention IMAGE --model M`: what the two-way bridge attends to (paper Figures 4-7)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from .analysis import model_spec, size_arg
from ..jobs.common import writable_dir
from .render import make_console


def register(sub) -> None:
    p = sub.add_parser("attention", help="cross-attention maps of the bridge on an image "
                       "(figures and attention.npz)")
    p.add_argument("image", help="an image file (PNG, JPEG, ...)")
    p.add_argument("--model", default="mobile-former-294m",
                   help="variant name or spec YAML file")
    p.add_argument("--weights", metavar="FILE", help="checkpoint to load (without it the "
                   "weights are random and the figures say so)")
    p.add_argument("--blocks", metavar="N,N,...", help="block numbers to draw, 1-based "
                   "(default: all)")
    p.add_argument("--res", type=size_arg, default=224, metavar="N",
                   help="the image is resized and centre-cropped to N x N")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field (repeatable)")
    p.add_argument("--out", required=True, help="folder for the figures and attention.npz")
    p.set_defaults(func=cmd_attention)


def cmd_attention(args: argparse.Namespace) -> int:
    from ..jobs import load_model
    from ..errors import UserError
    from ..reports.attention import run_attention

    if not isinstance(args.res, int):
        raise UserError("--res: attention maps take a square crop (one number N)")
    spec = model_spec(argparse.Namespace(model=args.model, overrides=args.overrides))
    if not Path(args.image).is_file():
        raise UserError(f"{args.image}: no such image")
    model = load_model(spec, args.weights, args.res)
    out = writable_dir(Path(args.out))
    result = run_attention(model, args.image, out, args.blocks, trained=bool(args.weights),
                           command=shlex.join(["mfsearch", *args.argv]), spec=spec)
    console = make_console(soft_wrap=True)
    shapes = ", ".join(f"block {b}: {tuple(result.maps[b]['mobile_to_former'].shape)}"
                       for b in result.blocks[:3])
    console.print(f"{result.model}: maps of {len(result.blocks)} blocks (heads x tokens x H x W: "
                  f"{shapes}{', ...' if len(result.blocks) > 3 else ''})", highlight=False)
    if not result.trained:
        console.print("weights: random (no --weights); the maps show structure, not what a "
                      "trained model attends to", highlight=False)
    console.print(f"wrote {len(result.files)} files to {out}", highlight=False)
    return 0
