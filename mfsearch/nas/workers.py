"""The search stage in several processes at once: one worker per entry of
`SearchSettings.workers()` (several on one GPU, or one per GPU), all on the study's storage.

Each worker asks Optuna for a candidate, trains it and tells the result, as the one-process loop
does; Optuna's successive-halving pruner compares a rung with whatever the study holds when a
candidate reaches it, so workers need no barrier and no scheduler of ours. Workers report each
outcome to this process, which renders it. Their samplers are unseeded (seeded ones would
propose the same candidates), so which candidates a parallel search tries varies from run to
run; every candidate's training is seeded as always."""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
import signal
import threading
import traceback

import optuna

from ..data import Dataset
from ..errors import UserError
from ..families import all_families, register
from ..proxy.pool import threads_per_job, use_device
from .settings import SearchSettings
from .trials import evaluated
from .storage import open_study
from .trial import run_trial

__all__ = ["describe", "repeatability", "search_in_workers"]

# Proposals in a row outside the band, within one worker, before the search gives up.
MAX_REJECTS_PER_WORKER = 5000
# Seconds between checks that every worker is still alive.
POLL_SECONDS = 1.0


def describe(settings: SearchSettings) -> str:
    """Where candidates train, in words ("" for one at a time in this process)."""
    workers = settings.workers()
    if not workers:
        return ""
    places = ", ".join(f"{workers.count(d)} on {d}" for d in dict.fromkeys(workers))
    cuda = (f"; CUDA trainings: {settings.cuda.describe()}"
            if any(d.startswith("cuda") for d in workers) else "")
    return f"{len(workers)} at once ({places}), one process each{cuda}"


def repeatability(settings: SearchSettings) -> str:
    """Whether a rerun repeats the trainings' scores, in words ("" for one CPU process)."""
    workers = settings.workers()
    if not workers:
        return ""
    order = ("the candidates tried vary from run to run (parallel workers' samplers are "
             "unseeded)" if len(workers) > 1 else "")
    if not any(d.startswith("cuda") for d in workers) or settings.cuda.deterministic:
        scores = "each training repeats bit for bit"
    else:
        scores = ("CUDA trainings do not repeat bit for bit (non-deterministic kernels: on an "
                  "H200 a 60-step proxy's mean loss moved by three quarters of the "
                  "seed-to-seed spread; --deterministic makes them repeat)")
    return "; ".join(part for part in (scores, order) if part)


def _busy(study: optuna.Study) -> int:
    """Candidates evaluated, or training now in some worker."""
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    return len(evaluated(study)) + sum(bool(t.user_attrs.get("feasible")) for t in running)


def _worker(device: str, threads: int, families: dict, settings: SearchSettings,
            data: Dataset, storage: str, study_name: str, max_duplicates: int,
            events) -> None:
    """One worker's loop: train candidates until the study holds enough."""
    import torch

    torch.set_num_threads(threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for family in families.values():
        register(family)
    use_device(device)
    where = "cpu" if device == "cpu" else "cuda"
    settings = dataclasses.replace(settings, proxy=dataclasses.replace(settings.proxy,
                                                                       device=where))
    try:
        study = open_study(storage, study_name, settings, shared=True)
        rejects = duplicates = 0
        while _busy(study) < settings.trials:
            asked: list[int] = []
            outcome = run_trial(study, settings, data, on_ask=asked.append)
            number = asked[0]
            attrs = study.get_trials(deepcopy=False)[number].user_attrs
            events.put(("outcome", number, outcome, attrs.get("fail_reason"),
                        attrs.get("steps_trained")))
            rejects = rejects + 1 if outcome == "infeasible" else 0
            duplicates = duplicates + 1 if outcome == "duplicate" else 0
            if duplicates >= max_duplicates:
                events.put(("stop", f"the last {duplicates} proposals of a worker repeated "
                                    "architectures already trained; the space holds nothing "
                                    "new the sampler finds in the band"))
                break
            if rejects > MAX_REJECTS_PER_WORKER:
                raise UserError(f"{rejects} candidates in a row fell outside the band; widen "
                                "--tolerance or the space")
    except UserError as exc:
        events.put(("error", str(exc)))
    except BaseException as exc:  # the parent reports it in one line and stops the others
        traceback.print_exc()  # an internal failure: the worker's stderr keeps the details
        events.put(("error", f"a search worker on {device} failed: "
                             f"{type(exc).__name__}: {exc}"))
    finally:
        events.put(("done", device))


def search_in_workers(settings: SearchSettings, data: Dataset, storage: str, study_name: str,
                      study: optuna.Study, on_outcome, max_duplicates: int) -> str:
    """Run the search stage in `settings.workers()` processes; `on_outcome(number, outcome,
    reason, steps)` hears of every trial as it ends. Returns why the search stopped early
    ("" when it reached its trials). Ctrl-C, or one worker's error, stops them all (their
    unfinished trials are retried when the search resumes)."""
    devices = settings.workers()
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    threads = threads_per_job(len(devices))
    args = (threads, all_families(), settings, data, storage, study_name, max_duplicates,
            events)
    workers = [context.Process(target=_worker, args=(device, *args), daemon=True)
               for device in devices]
    # Workers start with Ctrl-C ignored (inherited): only this process sees it and stops them.
    ignore = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if ignore else None
    try:
        for w in workers:
            w.start()
    finally:
        if ignore:
            signal.signal(signal.SIGINT, previous)
    stopped, running = "", len(workers)
    try:
        while running:
            try:
                event = events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                dead = [w for w in workers if w.exitcode not in (None, 0)]
                if dead:
                    raise UserError(f"a search worker stopped (exit code {dead[0].exitcode}); "
                                    "rerun the same command to resume") from None
                continue
            kind = event[0]
            if kind == "outcome":
                on_outcome(*event[1:])
            elif kind == "stop":
                stopped = stopped or event[1]
            elif kind == "error":
                raise UserError(event[1])
            elif kind == "done":
                running -= 1
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
        for w in workers:
            w.join()
    return stopped
