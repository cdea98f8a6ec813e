"""What several jobs share: the proxy's settings from user-level fields, and output folders."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable

from .. import defaults
from ..errors import UserError
from ..proxy.config import ProxyConfig

PROXY_FIELDS = tuple(f.name for f in fields(ProxyConfig))


def proxy_settings(proxy: dict | ProxyConfig | None, seed: int = defaults.SEED,
                   device: str = defaults.DEVICE) -> ProxyConfig:
    """The proxy's settings: ProxyConfig fields given as a dict ({"steps": 20}), the rest
    defaults; a short run warms up over its first tenth at most."""
    if isinstance(proxy, ProxyConfig):
        return proxy.check()
    given = dict(proxy or {})
    unknown = sorted(set(given) - set(PROXY_FIELDS))
    if unknown:
        raise UserError(f"proxy: unknown setting(s) {', '.join(unknown)}; expected "
                        f"{', '.join(PROXY_FIELDS)}")
    given.setdefault("seed", seed)
    given.setdefault("device", device)
    steps = given.get("steps", ProxyConfig.steps)
    if isinstance(steps, int):
        given.setdefault("warmup", min(ProxyConfig.warmup, max(1, steps // 10)))
    return ProxyConfig(**given).check()


@dataclass(frozen=True)
class DataSource:
    """The images a training job reads: a folder (None: the built-in task), decoded at the
    proxy's resolution, with `val_fraction` held out when the folder has no split (None: the
    default), each split capped to a seeded subset stratified by class."""

    path: str | None
    val_fraction: float | None
    seed: int
    load_size: int
    max_images: int  # training images kept
    max_held_out: int = defaults.HELD_OUT_IMAGES
    skip_bad: bool = False

    def load(self, progress: Callable[[int, int], None] | None = None):
        from .. import data as datasets

        return datasets.load(self.path, val_fraction=self.val_fraction, seed=self.seed,
                             load_size=self.load_size, max_images=self.max_images,
                             max_held_out=self.max_held_out, skip_bad=self.skip_bad,
                             progress=progress)


def data_source(data: str | Path | None, val_fraction: float | None, seed: int,
                proxy: ProxyConfig, drawn: int | None = None, max_images: int | None = None,
                skip_bad: bool = False) -> DataSource:
    """`max_images` defaults to `drawn`, every training image the job's trainings can draw
    (each draws its batches without repeats; by default one proxy training's): more would
    never be seen, and a folder of any size loads in the same memory."""
    if val_fraction is not None and not 0 <= val_fraction < 1:
        raise UserError(f"--val-fraction {val_fraction}: expected a number in [0, 1)")
    cap = max_images if max_images is not None else drawn or proxy.steps * proxy.batch_size
    if not isinstance(cap, int) or cap < 1:
        raise UserError(f"--max-images {max_images}: expected a positive integer")
    return DataSource(None if data is None else str(data), val_fraction, seed, proxy.resolution,
                      cap, skip_bad=skip_bad)


def check_writable(out: Path, option: str = "--out") -> None:
    """That `out` could be made and written, without making it: a job that fails later on its
    inputs leaves no folder behind."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{option} {out}: not a folder")
    parent = next(p for p in [out, *out.absolute().parents] if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{option} {out}: cannot write there ({parent} is not writable)")


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


def default_out() -> Path:
    import datetime

    return Path("runs") / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def report_path(value: str | Path | None, default: str, option: str = "--out") -> Path:
    """A report job's output: the value given, or the checkout's `default` under reports/;
    outside a checkout of mfsearch the user must say where."""
    from ..reports.files import in_checkout

    if value is not None:
        return Path(value)
    if not in_checkout():
        raise UserError(f"{option} is needed here: its default, {default}, is the reports folder "
                        "of a checkout of mfsearch, and this folder is not one")
    return Path(default)


# Warnings torch logs for what a run does not use: CUDA build files on a machine without a GPU,
# torchvision's detection ops when exporting a classifier.
QUIET_LOGGERS = ("torch.utils.cpp_extension", "torch.onnx._internal.exporter._registration")


def quiet_torch() -> None:
    """The loggers of QUIET_LOGGERS raised to errors: they speak of parts a run does not use.
    The command line calls it first; never on import."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet_libraries() -> None:
    """Where a job starts: torch's loggers as `quiet_torch`, and Optuna's per-trial lines,
    which would repeat the job's own progress."""
    import optuna

    quiet_torch()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
