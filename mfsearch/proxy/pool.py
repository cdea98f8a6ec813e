"""Several proxy trainings at once, each in its own process with the CPU threads split between
them: one small training keeps two cores only partly busy (a 60-step proxy run takes as long
on two threads as on one), so separate processes finish about twice as many (docs/decisions.md).
A run's result depends only on its seed and its thread count, not on what runs beside it."""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Iterable, Iterator

import torch

from ..data import Dataset
from ..errors import UserError
from ..families import all_families, register
from .config import SCORES, ProxyConfig
from .train import TrainingDiverged, train_proxy

__all__ = ["threads_per_job", "train_many", "train_one"]

_WORKER: dict = {}


def threads_per_job(jobs: int) -> int:
    return max(1, torch.get_num_threads() // jobs)


def train_one(spec, data: Dataset, cfg: ProxyConfig) -> dict:
    """Every score of one training (keyed as in SCORES), its seconds and its per-step losses
    (from which a rung's running score can be read wherever another schedule agrees)."""
    losses: list[float] = []
    try:
        result = train_proxy(spec, data, cfg, progress=lambda step, loss: losses.append(loss))
    except TrainingDiverged as exc:
        raise UserError(f"{spec.name} (seed {cfg.seed}, {cfg.steps} steps) diverged: {exc}; "
                        "a ranking needs every training to finish (try a lower --proxy-lr)"
                        ) from None
    return {**{kind: result.scored(kind) for kind in SCORES}, "seconds": result.seconds,
            "losses": losses}


def _start_worker(data: Dataset, threads: int, families: dict) -> None:
    """A spawned worker starts with the built-in families only: it also learns those the
    parent registered at run time (a notebook's own family)."""
    torch.set_num_threads(threads)
    for family in families.values():
        register(family)
    _WORKER["data"] = data


def _train_in_worker(task) -> tuple:
    key, spec, cfg = task
    return key, train_one(spec, _WORKER["data"], cfg)


def train_many(tasks: Iterable[tuple], data: Dataset, jobs: int) -> Iterator[tuple]:
    """Yield (key, outcome of `train_one`) for every (key, spec, cfg) task as it finishes: in
    order in this process with jobs == 1, otherwise in `jobs` processes of
    `threads_per_job(jobs)` threads each (so the thread count, which a training log keys on, does
    not depend on how many tasks there are), in the order they finish."""
    tasks = list(tasks)
    if not tasks:
        return
    if jobs == 1:
        for key, spec, cfg in tasks:
            yield key, train_one(spec, data, cfg)
        return
    # spawn, not fork: a forked child of a process that has run torch threads can hang. The
    # workers start with Ctrl-C ignored (the setting is inherited), so only this process sees
    # it, stops them and reports one line instead of a traceback per worker.
    ignore = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if ignore else None
    try:
        pool = multiprocessing.get_context("spawn").Pool(
            min(jobs, len(tasks)), initializer=_start_worker,
            initargs=(data, threads_per_job(jobs), all_families()))
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
