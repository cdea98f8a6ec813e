"""`mfsearch train`: a real training of a variant, a spec file or a search's pick."""

from __future__ import annotations

import argparse
import shlex

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from .. import defaults
from ..jobs.train import plan_train
from ..jobs.verify import plan_verify
from .analysis import resolution_arg
from .common import fraction, non_negative_int, positive_float, positive_int, seed_int
from .render import make_console


def register(sub) -> None:
    p = sub.add_parser("train", help="train a model for real on your images (resumable; "
                       "torchrun for several processes or GPUs)")
    p.add_argument("model", help="variant name, spec YAML, or a search's best.yaml")
    p.add_argument("--data", help="ImageFolder (train/ + val/ or test/, or one folder split "
                   "by --val-fraction) or CIFAR python pickles (default: the built-in task)")
    p.add_argument("--epochs", type=positive_int, required=True, help="passes over the "
                   "training images")
    p.add_argument("--out", help="run folder (default runs/<timestamp>); rerun with the same "
                   "folder to resume after the last completed epoch")
    p.add_argument("--batch", type=positive_int, default=defaults.TRAIN_BATCH,
                   help="images per step, over all processes")
    p.add_argument("--lr", type=positive_float, help="peak learning rate (default: the "
                   "family's, e.g. Table 11 for Mobile-Former, scaled from its batch to --batch)")
    p.add_argument("--weight-decay", type=float, help="AdamW weight decay (default: the "
                   "family's)")
    p.add_argument("--warmup-epochs", type=non_negative_int, help="linear warm-up, then "
                   f"cosine (default {defaults.TRAIN_WARMUP_EPOCHS}, none for a 1-epoch run)")
    p.add_argument("--label-smoothing", type=fraction, default=defaults.TRAIN_LABEL_SMOOTHING)
    p.add_argument("--ema-decay", type=positive_float, default=defaults.TRAIN_EMA_DECAY,
                   help="decay of the weights' exponential moving average")
    p.add_argument("--res", type=resolution_arg, default=defaults.RESOLUTION,
                   help="image side trained and evaluated at")
    p.add_argument("--seed", type=seed_int, default=defaults.SEED)
    p.add_argument("--workers", type=non_negative_int, default=defaults.TRAIN_WORKERS,
                   help="DataLoader processes decoding images, per training process")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=defaults.DEVICE)
    p.add_argument("--val-fraction", type=fraction, help="held out of a folder without its "
                   f"own split (default {defaults.VAL_FRACTION}; refused for a folder with one)")
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="override a spec field (repeatable)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("verify", help="does a search's verdict hold on real training? train "
                       "its pick, control and baselines with several seeds")
    p.add_argument("run", metavar="RUN_DIR", help="the folder a search wrote (report.json)")
    p.add_argument("--epochs", type=positive_int, required=True)
    p.add_argument("--seeds", type=positive_int, default=3, help="trainings of each design "
                   "(at least 2)")
    p.add_argument("--data", help="images to train on (default: the search's, when it ran on "
                   "the built-in task)")
    p.add_argument("--batch", type=positive_int, default=defaults.TRAIN_BATCH)
    p.add_argument("--res", type=resolution_arg, help="image side (default: the search's "
                   "proxy resolution)")
    p.add_argument("--workers", type=non_negative_int, default=defaults.TRAIN_WORKERS)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=defaults.DEVICE)
    p.set_defaults(func=cmd_verify)


def train_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch train`'s options as the inputs of `mfsearch.jobs.plan_train`."""
    return {"model": args.model, "data": args.data, "epochs": args.epochs, "out": args.out,
            "batch": args.batch, "lr": args.lr, "weight_decay": args.weight_decay,
            "warmup_epochs": args.warmup_epochs, "label_smoothing": args.label_smoothing,
            "ema_decay": args.ema_decay, "resolution": args.res, "seed": args.seed,
            "workers": args.workers, "device": args.device,
            "val_fraction": args.val_fraction, "overrides": args.overrides,
            "command": shlex.join(["mfsearch", *args.argv])}


class _TrainRenderer:
    """A training's events as two bars on stderr (epochs, steps with images/s and ETA) and a
    line per epoch on stdout, so logs and pipes see progress too."""

    def __init__(self, epochs: int, quiet: bool = False):
        console = make_console(soft_wrap=True)
        self.say = (lambda m: None) if quiet else (lambda m: console.print(m, highlight=False))
        self.epochs = epochs
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"), console=make_console(stderr=True),
            disable=quiet)
        self.bars: dict = {}

    def __call__(self, event) -> None:
        progress, bars = self.progress, self.bars
        if event.kind == "resume":
            self.say(f"resuming after epoch {event.epoch}")
        elif event.kind == "start":
            self.say(f"data: {event.info['data']}; {event.info['processes']} process(es) on "
                     f"{event.info['device']}")
            for bar in bars.values():
                progress.remove_task(bar)
            bars["epochs"] = progress.add_task("epochs", total=self.epochs,
                                               completed=event.epoch, note="")
            bars["steps"] = progress.add_task("  steps", total=event.steps, note="")
        elif event.kind == "step":
            progress.update(bars["steps"], completed=event.step,
                            note=f"loss {event.loss:.3f}, {event.images_per_s:,.0f} images/s")
        elif event.kind == "epoch":
            row = event.info
            self.say(f"epoch {event.epoch}/{self.epochs}: train loss {row['train_loss']:.4f}, "
                     f"held-out loss {row['val_loss']:.4f}, top-1 {100 * row['val_top1']:.2f}% "
                     f"(EMA {100 * row['ema_val_top1']:.2f}%), {row['images_per_s']:,.0f} "
                     f"images/s, {row['seconds']:.0f} s")
            progress.update(bars["epochs"], completed=event.epoch,
                            note=f"top-1 {100 * row['val_top1']:.1f}% (EMA "
                                 f"{100 * row['ema_val_top1']:.1f}%)")
            progress.reset(bars["steps"])


def cmd_train(args: argparse.Namespace) -> int:
    from ..training.loop import launched

    job = plan_train(**train_inputs(args))
    render = _TrainRenderer(job.settings.epochs, quiet=launched()[0] != 0)  # one process speaks
    render.say(f"{job.spec.name}: {job.settings.epochs} epochs at {job.settings.resolution} px, "
               f"batch {job.settings.batch}, {job.recipe}; output {job.out}")
    try:
        with render.progress:
            history = job.run(render)
    except KeyboardInterrupt:
        render.say(f"interrupted: finished epochs are kept in {job.out}; resume with the same "
                   "command")
        return 130
    if history:
        last = history[-1]
        render.say(f"epoch {last['epoch']}: held-out top-1 {100 * last['val_top1']:.2f}% (EMA "
                   f"{100 * last['ema_val_top1']:.2f}%); wrote {job.out / 'model.safetensors'}, "
                   f"{job.out / 'model-ema.safetensors'}, {job.out / 'history.csv'}, "
                   f"{job.out / 'history.png'}")
    return 0


def verify_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch verify`'s options as the inputs of `mfsearch.jobs.plan_verify`."""
    return {"run": args.run, "epochs": args.epochs, "seeds": args.seeds, "data": args.data,
            "batch": args.batch, "resolution": args.res, "workers": args.workers,
            "device": args.device}


def cmd_verify(args: argparse.Namespace) -> int:
    job = plan_verify(**verify_inputs(args))
    console = make_console(soft_wrap=True)
    say = lambda m: console.print(m, highlight=False)  # noqa: E731
    say(f"verifying {job.folder} on {job.data_name}: {job.epochs} epochs x {job.seeds} seeds "
        "per design; finished trainings are kept and not redone")
    render = _TrainRenderer(job.epochs)
    try:
        with render.progress:
            result = job.run(say, render)
    except KeyboardInterrupt:
        say(f"interrupted: finished trainings are kept under {job.folder / 'verify'}; resume "
            "with the same command")
        return 130
    for c in result.candidates():
        say(f"{c.name}: held-out top-1 {c.mean:.4f} over seeds "
            f"({', '.join(f'{s:.4f}' for s in c.scores)})")
    say(result.verdict())
    for line in [*result.baseline_verdicts(), *result.warnings()]:
        say(line)
    say(f"wrote {job.folder / 'report.md'} (On real training) and {job.folder / 'report.json'}"
        " (verified)")
    return 0
