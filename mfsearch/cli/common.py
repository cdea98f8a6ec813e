"""Argument types and option groups shared by several commands."""

from __future__ import annotations

import argparse
import math

from .. import defaults
from ..proxy.config import SCORES, ProxyConfig
from ..proxy.options import PRECISIONS

DEFAULTS = ProxyConfig()


def _number(convert, accept, expected: str):
    """An argparse type: convert, then check, with one message for both failures."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
non_negative_int = _number(int, lambda v: v >= 0, "an integer of at least 0")
at_least_2 = _number(int, lambda v: v >= 2, "an integer of at least 2")
at_least_3 = _number(int, lambda v: v >= 3, "an integer of at least 3 (rank statistics need 3 "
                     "architectures)")
fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
MAX_SEED = 2**32 - 1  # what numpy's and Optuna's seeded samplers accept
seed_int = _number(int, lambda v: 0 <= v <= MAX_SEED, f"an integer seed in [0, {MAX_SEED}]")


def add_proxy_args(p: argparse.ArgumentParser) -> None:
    """Data and short-training options of every command that trains proxies."""
    p.add_argument("--data", help="ImageFolder or CIFAR pickle folder (default: built-in task)")
    p.add_argument("--val-fraction", type=fraction, help="share of a flat ImageFolder (or "
                   "of CIFAR without its test batch) held out for scoring, stratified and "
                   f"seeded (default {defaults.VAL_FRACTION}; refused for a folder with its "
                   "own val/ or test/)")
    p.add_argument("--max-images", type=positive_int, help="training images loaded from "
                   "--data: a seeded subset stratified by class (default: as many as the "
                   "trainings can draw, steps x batch per seed); held-out images are capped at "
                   f"{defaults.HELD_OUT_IMAGES:,}. A class folder without images is refused")
    p.add_argument("--skip-bad-images", action="store_true", help="leave unreadable image "
                   "files out (listed, and counted in the data line) instead of stopping")
    p.add_argument("--proxy-steps", type=positive_int, default=DEFAULTS.steps,
                   help="AdamW steps of each candidate's short training")
    p.add_argument("--proxy-res", type=positive_int, default=DEFAULTS.resolution,
                   help="image side the proxy trains at")
    p.add_argument("--proxy-batch", type=positive_int, default=DEFAULTS.batch_size,
                   help="images per proxy step")
    p.add_argument("--proxy-lr", type=positive_float, default=DEFAULTS.lr,
                   help="peak learning rate (linear warm-up, cosine decay)")
    p.add_argument("--proxy-score", choices=SCORES, default=DEFAULTS.score,
                   help="what ranks candidates: loss (minus the mean training loss, how fast "
                   "a candidate learns) or top1 (held-out top-1 after the run)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=defaults.DEVICE,
                   help="where the proxy trains (auto: CUDA when there is one)")
    p.add_argument("--seed", type=seed_int, default=defaults.SEED,
                   help="seeds the sampler and the proxy training")


PROXY_OPTIONS = {"proxy_steps": "steps", "proxy_batch": "batch_size",
                 "proxy_res": "resolution", "proxy_lr": "lr", "proxy_score": "score"}


def proxy_inputs(args: argparse.Namespace) -> dict:
    """The job inputs of the proxy options: the proxy fields given, the data, seed, device."""
    proxy = {field: getattr(args, option) for option, field in PROXY_OPTIONS.items()
             if getattr(args, option) is not None}
    return {"proxy": proxy, "seed": args.seed, "device": args.device, "data": args.data,
            "val_fraction": args.val_fraction, "max_images": args.max_images,
            "skip_bad_images": args.skip_bad_images}


def add_device_args(p: argparse.ArgumentParser) -> None:
    """Where and how a search's trainings run at once (workers, GPUs, CUDA settings)."""
    g = p.add_argument_group("accelerators")
    g.add_argument("--devices", metavar="LIST", help="train candidates at once in worker "
                   "processes on the study, --per-device on each listed device (e.g. "
                   "cuda:0,cuda:1, or cpu,cpu); with --device cuda the default is the current "
                   "GPU. The confirmation uses as many. A parallel search tries candidates in "
                   "a varying order")
    g.add_argument("--per-device", type=positive_int, metavar="K", help="worker processes on "
                   "each device (default: 8 on a GPU, 1 on a CPU; processes take turns on a "
                   "GPU, and 4 to 16 trained equally fast: reports/gpu.md)")
    g.add_argument("--precision", choices=PRECISIONS, default=defaults.PRECISION, help="CUDA trainings in "
                   "fp32 (default) or under bf16 autocast (reports/gpu.md: how bf16 scores "
                   "rank against fp32)")
    g.add_argument("--deterministic", action="store_true", help="CUDA: deterministic "
                   "algorithms and a fixed cuBLAS workspace, so a training repeats bit for bit "
                   "(a CPU training always does)")
    g.add_argument("--no-graphs", dest="graphs", action="store_false", help="CUDA: run every "
                   "step eagerly instead of replaying it from a captured CUDA graph")


def add_engine_arg(p) -> None:
    p.add_argument("--engine", default=defaults.ENGINE, metavar="NAME",
                   help="runtime that runs the model: torch (eager), onnxruntime (the ONNX "
                   "export in ONNX Runtime) or executorch (the XNNPACK-lowered program); the "
                   "last two need `pip install 'mfsearch[deploy]'` (default: torch)")


def device_inputs(args: argparse.Namespace) -> dict:
    """The job inputs of the accelerator options."""
    return {"devices": args.devices, "per_device": args.per_device,
            "precision": args.precision, "deterministic": args.deterministic,
            "graphs": args.graphs}
