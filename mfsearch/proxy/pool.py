"""Several proxy trainings at once, each in its own process with the CPU threads split between
them: one small training keeps two cores only partly busy (a 60-step proxy run takes as long
on two threads as on one), so separate processes finish about twice as many (docs/decisions.md).
A run's result depends only on its seed and its thread count, not on what runs beside it.

On CUDA several processes share one GPU the same way: each replays its own captured steps, and
they take turns on the GPU, filling the gaps while another builds or evaluates a model (one
process trained 50 proxies a minute on an H200, several 73: reports/gpu.md). `devices` names
each process's device."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Iterable, Iterator

import torch

from ..data import Dataset
from ..errors import UserError
from ..families import all_families, register
from .config import SCORES, ProxyConfig
from .device import train
from .options import DeviceOptions
from .train import TrainingDiverged

__all__ = ["threads_per_job", "train_many", "train_one", "use_device"]

_WORKER: dict = {}


def threads_per_job(jobs: int) -> int:
    return max(1, torch.get_num_threads() // jobs)


def use_device(name: str | None) -> None:
    """Make `name` (cuda:N) this process's CUDA device, so trainings asked for on "cuda" run
    there and their logged keys do not depend on which GPU ran them."""
    device = torch.device(name) if name else None
    if device is not None and device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)


def train_one(spec, data: Dataset, cfg: ProxyConfig,
              options: DeviceOptions | None = None) -> dict:
    """Every score of one training (keyed as in SCORES), its seconds and its per-step losses
    (from which a rung's running score can be read wherever another schedule agrees)."""
    losses: list[float] = []
    try:
        result = train(spec, data, cfg, options,
                       progress=lambda step, loss: losses.append(loss))
    except TrainingDiverged as exc:
        raise UserError(f"{spec.name} (seed {cfg.seed}, {cfg.steps} steps) diverged: {exc}; "
                        "a ranking needs every training to finish (try a lower --proxy-lr)"
                        ) from None
    return {**{kind: result.scored(kind) for kind in SCORES}, "seconds": result.seconds,
            "losses": losses}


def _start_worker(data: Dataset, threads: int, families: dict, options, devices) -> None:
    """A spawned worker starts with the built-in families only: it also learns those the
    parent registered at run time (a notebook's own family)."""
    torch.set_num_threads(threads)
    for family in families.values():
        register(family)
    use_device(devices.get() if devices is not None else None)
    _WORKER.update(data=data, options=options)


def _train_in_worker(task) -> tuple:
    key, spec, cfg = task
    return key, train_one(spec, _WORKER["data"], cfg, _WORKER["options"])


def train_many(tasks: Iterable[tuple], data: Dataset, jobs: int,
               devices: list[str] | None = None,
               options: DeviceOptions | None = None) -> Iterator[tuple]:
    """Yield (key, outcome of `train_one`) for every (key, spec, cfg) task as it finishes: in
    order in this process with jobs == 1, otherwise in `jobs` processes of
    `threads_per_job(jobs)` threads each (so the thread count, which a training log keys on, does
    not depend on how many tasks there are), in the order they finish. `devices` (as many as
    `jobs`) gives each process its CUDA device."""
    tasks = list(tasks)
    if not tasks:
        return
    if jobs == 1:
        here = torch.device(devices[0]) if devices else None
        with (torch.cuda.device(here) if here is not None and here.type == "cuda"
              else contextlib.nullcontext()):
            for key, spec, cfg in tasks:
                yield key, train_one(spec, data, cfg, options)
        return
    context = multiprocessing.get_context("spawn")
    queue = None
    if devices:
        queue = context.Queue()
        for name in devices[:min(jobs, len(tasks))]:
            queue.put(name)
    # spawn, not fork: a forked child of a process that has run torch threads can hang. The
    # workers start with Ctrl-C ignored (the setting is inherited), so only this process sees
    # it, stops them and reports one line instead of a traceback per worker.
    ignore = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if ignore else None
    try:
        pool = context.Pool(
            min(jobs, len(tasks)), initializer=_start_worker,
            initargs=(data, threads_per_job(jobs), all_families(), options, queue))
    finally:
        if ignore:
            signal.signal(signal.SIGINT, previous)
    try:
        yield from pool.imap_unordered(_train_in_worker, tasks)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
