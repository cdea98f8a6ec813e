"""Argument types and option groups shared by several commands."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from ..errors import UserError
from ..proxy.config import SCORES, ProxyConfig
from ..proxy.options import PRECISIONS, DeviceOptions

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
    p.add_argument("--val-fraction", type=fraction, default=0.2, help="share of a flat "
                   "ImageFolder (or of CIFAR without its test batch) held out for scoring, "
                   "stratified and seeded")
    p.add_argument("--proxy-steps", type=positive_int, default=DEFAULTS.steps,
                   help="AdamW steps of each candidate's short training")
    p.add_argument("--proxy-res", type=positive_int, default=DEFAULTS.resolution,
                   help="image side the proxy trains at")
    p.add_argument("--proxy-batch", type=positive_int, default=DEFAULTS.batch_size,
                   help="images per proxy step")
    p.add_argument("--proxy-lr", type=positive_float, default=DEFAULTS.lr,
                   help="peak learning rate (linear warm-up, cosine decay)")
    p.add_argument("--proxy-score", choices=SCORES, default=DEFAULTS.score,
                   help="what ranks candidates: loss (default: minus the mean training loss, "
                   "how fast a candidate learns) or top1 (held-out top-1 after the run)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where the proxy trains (auto: CUDA when there is one)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seeds the sampler and the proxy training (default 0)")


def proxy_config(args: argparse.Namespace) -> ProxyConfig:
    return ProxyConfig(steps=args.proxy_steps, batch_size=args.proxy_batch,
                       resolution=args.proxy_res, lr=args.proxy_lr, seed=args.seed,
                       device=args.device, score=args.proxy_score,
                       warmup=min(DEFAULTS.warmup, max(1, args.proxy_steps // 10))).check()


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
    g.add_argument("--precision", choices=PRECISIONS, default="fp32", help="CUDA trainings in "
                   "fp32 (default) or under bf16 autocast (reports/gpu.md: how bf16 scores "
                   "rank against fp32)")
    g.add_argument("--deterministic", action="store_true", help="CUDA: deterministic "
                   "algorithms and a fixed cuBLAS workspace, so a training repeats bit for bit "
                   "(a CPU training always does)")
    g.add_argument("--no-graphs", dest="graphs", action="store_false", help="CUDA: run every "
                   "step eagerly instead of replaying it from a captured CUDA graph")


def device_settings(args: argparse.Namespace, proxy: ProxyConfig) -> tuple[ProxyConfig, dict]:
    """The proxy and the SearchSettings fields the accelerator options give, checked before
    anything is written: a missing GPU, devices of two kinds, bf16 asked for on a CPU."""
    from ..proxy.device import check_devices, on_devices
    from ..proxy.train import pick_device

    devices = check_devices(args.devices.split(",")) if args.devices is not None else ()
    if devices:
        proxy = on_devices(proxy, devices)
    on_cuda = pick_device(proxy.device).type == "cuda"  # --device cuda without one fails here
    if args.precision != "fp32" and not on_cuda:
        raise UserError(f"--precision {args.precision} applies to CUDA trainings; this search "
                        "trains on the CPU (use --device cuda)")
    return proxy, {"devices": devices, "per_device": args.per_device,
                   "cuda": DeviceOptions(graphs=args.graphs, precision=args.precision,
                                         deterministic=args.deterministic)}


def writable_dir(out: Path, option: str = "--out") -> Path:
    """Create `out` and prove it can be written before any long work starts."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"{option} {out}: cannot write there ({exc.strerror or exc})") from None
    return out


def quiet_optuna() -> None:
    """The CLI prints its own progress: Optuna's per-trial log lines would repeat it."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def report_path(value: str | None, default: str, option: str = "--out") -> Path:
    """A report command's output: the value given, or the checkout's `default` under
    reports/; outside a checkout of mfsearch the user must say where."""
    from ..reports.files import in_checkout

    if value is not None:
        return Path(value)
    if not in_checkout():
        raise UserError(f"{option} is needed here: its default, {default}, is the reports folder "
                        "of a checkout of mfsearch, and this folder is not one")
    return Path(default)


def load_data(args: argparse.Namespace):
    """The data a training command's options name, decoded at the proxy's resolution."""
    from .. import data as datasets

    return datasets.load(args.data, val_fraction=args.val_fraction, seed=args.seed,
                         load_size=args.proxy_res)


def add_engine_arg(p) -> None:
    p.add_argument("--engine", default="torch", metavar="NAME",
                   help="runtime that runs the model: torch (eager), onnxruntime (the ONNX "
                   "export in ONNX Runtime) or executorch (the XNNPACK-lowered program); the "
                   "last two need `pip install 'mfsearch[deploy]'` (default: torch)")
