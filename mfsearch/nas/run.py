"""A whole search as one call: open (or resume) the study, run trials until the study holds
enough trained candidates, stop when the space is exhausted or the band is missed, and leave the
outputs. Callers (the CLI, a notebook) follow it through events."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import optuna

from ..data import Dataset
from ..errors import UserError
from .confirm import Confirmation, baseline_specs, confirm, control_spec
from .outputs import leaderboard, write_outputs
from .settings import SearchSettings
from .trials import best_trained, evaluated, proxy_score, trained
from .band import check_reachable
from .storage import (default_storage, fail_dead_workers, open_study, requeue_interrupted,
                      study_identity)
from .timing import SAFETY, Costs, Plan, Speed, clock, fit_confirmation, plan
from .trial import run_trial
from .workers import describe, search_in_workers

# Proposals in a row outside the band before a search gives up: the band is too narrow.
MAX_CONSECUTIVE_REJECTS = 5000
# Proposals in a row that repeat trained architectures before a search stops: the sampler has
# nothing new left to propose in the band.
MAX_CONSECUTIVE_DUPLICATES = 50


@dataclass(frozen=True)
class SearchEvent:
    """What happened: `kind` is one of
    - "load": `done` of `info["total"]` images decoded (a folder from disk, before "start");
    - "start": `done` candidates are evaluated already (trained, or stopped at a rung); `info`
      has reachable (lo, hi), requeued (interrupted trials queued again), out, data (what it
      trains on, in words), best (the best trial so far), procedure (in words),
      flat_because (why a search that asked for pruning trains every candidate fully),
      trials (the candidates it aims for) and time_limit (in words; "" without one);
    - "plan": the search planned its procedure to fit the time limit (`message` says what the
      time buys; `info["plan"]` is the `timing.Plan`), or shrank its confirmation to the time
      left;
    - "trial": a trial is about to run (`done` trained so far);
    - "step": a proxy step finished (`step`, `loss`);
    - "phase": scoring after the training started a phase (`message`: "evaluating", ...);
    - "outcome": a trial ended (`outcome`: trained, pruned, infeasible, duplicate or failed;
      `trial`, `done`; `info` has best, steps trained, and reason for a failed one);
    - "stop": the search ended early (`message`);
    - "confirm": a confirmation training starts (`message` names it)."""

    kind: str
    done: int = 0
    step: int = 0
    loss: float = float("nan")
    outcome: str = ""
    trial: int | None = None
    message: str = ""
    info: dict = field(default_factory=dict)


@dataclass
class SearchResult:
    study: optuna.Study
    out: Path
    paths: dict[str, Path]
    stopped: str = ""  # why it stopped before reaching the trials asked for, if it did
    confirmation: Confirmation | None = None  # the finalists and the control, retrained
    timing: dict | None = None  # under a time limit: the limit, the plan, the seconds taken

    @property
    def trained(self) -> list[optuna.trial.FrozenTrial]:
        return trained(self.study)

    @property
    def best(self) -> optuna.trial.FrozenTrial | None:
        done = self.trained
        return best_trained(done) if done else None

    def leaderboard(self):
        """The trained candidates ranked by the proxy's score (a pandas DataFrame)."""
        return leaderboard(self.study)

    def summary(self) -> dict:
        best = self.best
        pick = self.confirmation.pick if self.confirmation else None
        return {"out": str(self.out), "trained": len(self.trained), "stopped": self.stopped,
                "files": {k: str(v) for k, v in self.paths.items()},
                "best": None if best is None else {
                    "trial": best.number, "score": proxy_score(best),
                    "madds": best.user_attrs["madds"], "params": best.user_attrs["params"],
                    "latency_ms": best.user_attrs.get("latency_ms")},
                "leaderboard": json.loads(self.leaderboard().to_json(orient="records")),
                "pick": None if pick is None else {"trial": pick.trial, "mean": pick.mean,
                                                   "madds": pick.madds},
                "verdict": self.confirmation.verdict() if self.confirmation else None,
                "timing": self.timing}


LOCK_FILE = ".mfsearch.lock"
CHECKPOINTS = "checkpoints"  # weights of trials trained but not yet scored


@contextlib.contextmanager
def output_lock(out: Path):
    """Hold `out` for this process: a second search on the same folder stops with one line.
    The OS drops the lock when its process dies, so a killed run's folder is taken over."""
    path = out / LOCK_FILE
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            raise UserError(f"--out {out} is in use by a running search ({owner}); wait for "
                            "it, or use another --out (workers that share one study use "
                            "--storage)") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


class Clock:
    """A search under `settings.time_limit`, as it goes (one process: parallel workers are not
    planned). The first candidate trained measures this machine; the plan (timing.plan) is
    kept in the study, so a resumed search runs the same one against a fresh limit."""

    def __init__(self, settings: SearchSettings, study: optuna.Study, started: float):
        self.limit = settings.time_limit
        self.study, self.started = study, started
        self.designs = int(control_spec(settings) is not None) + len(baseline_specs(settings))
        self.jobs = settings.confirmation_jobs()
        self.given = (settings.trials, settings.finalists, settings.confirm_seeds)
        self.eta, self.pruning = settings.eta, settings.pruning
        recorded = study.user_attrs.get("plan")
        self.plan = Plan.from_json(recorded) if recorded else None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def apply(self, settings: SearchSettings) -> SearchSettings:
        if self.plan is None:
            return settings
        # The candidates planned are a forecast: the search goes on towards those asked for
        # while one more leaves the confirmation its time (`room_for_candidate`).
        return dataclasses.replace(settings, finalists=self.plan.finalists,
                                   confirm_seeds=self.plan.confirm_seeds)

    def measure(self, trial: optuna.trial.FrozenTrial, seconds: float, steps: int) -> Plan:
        """Plan from the first candidate trained to the top (`seconds` asked to scored)."""
        speed = Speed(trial_seconds=round(seconds, 3), steps=steps,
                      step_seconds=round(trial.user_attrs["train_seconds"] / steps, 5))
        self.plan = plan(self.limit, self.elapsed(), seconds, speed, self.given, self.designs,
                         self.jobs, self.eta, self.pruning)
        self.study.set_user_attr("plan", self.plan.to_json())
        return self.plan

    def room_for_candidate(self, settings: SearchSettings) -> bool:
        """Whether one more candidate trained to the top still leaves the confirmation its
        time within the limit (with the plan's margin: the estimates drift by seconds)."""
        if self.plan is None:
            return True
        confirmation = Costs(self.plan.speed, self.designs, self.jobs).confirmation(
            settings.finalists, settings.confirm_seeds)
        left = SAFETY * self.limit.seconds - self.elapsed()
        return self.plan.speed.trial_seconds + confirmation <= left

    def fit_confirmation(self, settings: SearchSettings) -> tuple[SearchSettings, str]:
        """The confirmation shrunk to the time left (fewer seeds, then fewer finalists), and
        what changed in words ("" when it fits as planned)."""
        if self.plan is None or not settings.finalists:
            return settings, ""
        left = self.limit.seconds - self.elapsed()
        finalists, seeds = fit_confirmation(self.plan.speed, settings.finalists,
                                            settings.confirm_seeds, left, self.designs,
                                            self.jobs)
        if (finalists, seeds) == (settings.finalists, settings.confirm_seeds):
            return settings, ""
        return (dataclasses.replace(settings, finalists=finalists, confirm_seeds=seeds),
                f"{clock(left)} left of the time limit: the confirmation retrains {finalists} "
                f"finalists with {seeds} further seeds (planned: {settings.finalists} with "
                f"{settings.confirm_seeds})")

    def summary(self, stopped: str) -> dict:
        return {"limit": self.limit.given, "limit_seconds": self.limit.seconds,
                "plan": self.plan.to_json() if self.plan else None,
                "bought": self.plan.describe() if self.plan else "",
                "seconds": round(self.elapsed(), 1), "stopped": stopped}


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search: the outputs of what finished are written; `result` holds them."""

    def __init__(self, result: SearchResult):
        super().__init__("search interrupted")
        self.result = result


def run_search(settings: SearchSettings, data: Dataset, out: str | Path,
               on_event: Callable[[SearchEvent], None] | None = None, *,
               storage: str | None = None, study_name: str | None = None, command: str = "",
               max_duplicates: int | None = None, started: float | None = None
               ) -> SearchResult:
    """Search until the study holds `settings.trials` trained candidates, then write
    trials.csv, best.yaml, report.md and pareto.png into `out` (they are also written on
    Ctrl-C, which raises SearchInterrupted). `storage` shares the study with other workers;
    without it the study is `out/study.db` and a rerun resumes it. The search stops early
    after `max_duplicates` proposals in a row repeat trained architectures. A time limit
    (`settings.time_limit`) counts from `started` (time.monotonic(); default: now)."""
    started = time.monotonic() if started is None else started
    out = Path(out)
    data.check_batch(settings.proxy.batch_size)
    out.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        return _search(settings, data, out, on_event or (lambda event: None), storage,
                       study_name, command, max_duplicates or MAX_CONSECUTIVE_DUPLICATES,
                       started)


def _search_here(settings: SearchSettings, data: Dataset, study: optuna.Study, emit,
                 shared: bool, count: int, max_duplicates: int,
                 timer: Clock | None) -> tuple[str, SearchSettings]:
    """The search stage in this process, one candidate at a time: why it stopped early, and
    the settings it ended with (a time limit plans them after the first candidate)."""
    rejects = duplicates = 0
    while count < settings.trials:
        if timer is not None and not timer.room_for_candidate(settings):
            stopped = (f"the time limit: {count} of {settings.trials} candidates evaluated "
                       f"({timer.plan.candidates} planned) when one more would have left the "
                       f"confirmation too little of the {clock(timer.limit.seconds)}")
            emit(SearchEvent("stop", done=len(trained(study)), message=stopped))
            return stopped, settings
        emit(SearchEvent("trial", done=count))
        if shared:
            fail_dead_workers(study)
        began, asked = time.monotonic(), []
        outcome = run_trial(study, settings, data,
                            lambda n, loss: emit(SearchEvent("step", step=n, loss=loss)),
                            lambda name: emit(SearchEvent("phase", message=name)),
                            asked.append)
        # This process's trial: with --storage, other workers' trials may come after it.
        last = study.get_trials(deepcopy=False)[asked[0]]
        if timer is not None and timer.plan is None and outcome == "trained":
            planned = timer.measure(last, time.monotonic() - began, settings.proxy.steps)
            settings = timer.apply(settings)
            emit(SearchEvent("plan", message=planned.describe(), info={"plan": planned}))
        done = trained(study)
        count = len(evaluated(study))
        emit(SearchEvent("outcome", done=count, outcome=outcome, trial=last.number,
                         info={"reason": last.user_attrs.get("fail_reason"),
                               "steps": last.user_attrs.get("steps_trained"),
                               "best": best_trained(done) if done else None}))
        rejects = rejects + 1 if outcome == "infeasible" else 0
        duplicates = duplicates + 1 if outcome == "duplicate" else 0
        if duplicates >= max_duplicates:
            stopped = (f"the last {duplicates} proposals repeated architectures already "
                       "trained; the space holds nothing new the sampler finds in the band")
            emit(SearchEvent("stop", done=len(done), message=stopped))
            return stopped, settings
        if rejects > MAX_CONSECUTIVE_REJECTS:
            raise UserError(f"{rejects} candidates in a row fell outside the band; widen "
                            "--tolerance or the space")
    return "", settings


def _search(settings: SearchSettings, data: Dataset, out: Path, emit, storage: str | None,
            study_name: str | None, command: str, max_duplicates: int,
            started: float) -> SearchResult:
    lo, hi = check_reachable(settings.space, settings.band)
    settings = dataclasses.replace(settings, checkpoint_dir=out / CHECKPOINTS)
    shared = storage is not None
    where = (f"study {study_name or 'mfsearch'!r} in {storage}" if shared else f"--out {out}")
    study = open_study(storage or default_storage(out), study_name or "mfsearch", settings,
                       shared=shared, identity=study_identity(settings, data), where=where)
    requeued = 0 if shared else requeue_interrupted(study)
    timer = (Clock(settings, study, started)
             if settings.time_limit is not None and not settings.workers() else None)
    settings = timer.apply(settings) if timer is not None else settings
    described = data.describe(settings.proxy.resolution)
    done = trained(study)
    count = len(evaluated(study))
    emit(SearchEvent("start", done=count, info={
        "reachable": (lo, hi), "requeued": requeued, "out": out, "data": described,
        "best": best_trained(done) if done else None, "procedure": settings.procedure(),
        "workers": describe(settings), "trials": settings.trials,
        "time_limit": "" if settings.time_limit is None else (
            f"{settings.time_limit.given}, planned after the first candidate"
            if timer is not None and timer.plan is None else
            f"{settings.time_limit.given}: {timer.plan.describe()}" if timer is not None else
            f"{settings.time_limit.given} is not planned for parallel workers; they train "
            "the procedure asked for"),
        "flat_because": "" if settings.pruning or settings.pruner == "none" else
        "Optuna's pruners refuse multi-objective studies"}))
    stopped = ""
    try:
        if settings.workers() and count < settings.trials:
            def outcome(number: int, kind: str, reason, steps) -> None:
                done = trained(study)
                emit(SearchEvent("outcome", done=len(evaluated(study)), outcome=kind,
                                 trial=number, info={"reason": reason, "steps": steps,
                                                     "best": best_trained(done) if done
                                                     else None}))

            stopped = search_in_workers(settings, data, storage or default_storage(out),
                                        study_name or "mfsearch", study, outcome,
                                        max_duplicates)
            if stopped:
                emit(SearchEvent("stop", done=len(trained(study)), message=stopped))
        else:
            stopped, settings = _search_here(settings, data, study, emit, shared, count,
                                             max_duplicates, timer)
        confirmation = None
        if timer is not None:
            settings, shrunk = timer.fit_confirmation(settings)
            if shrunk:
                emit(SearchEvent("plan", message=shrunk, info={"plan": timer.plan}))
        if settings.finalists:  # also after an early stop: confirm what the search found
            emit(SearchEvent("phase", message="confirming the finalists"))
            confirmation = confirm(study, settings, data, out,
                                   lambda message: emit(SearchEvent("confirm",
                                                                    message=message)))
    except KeyboardInterrupt:
        timing = timer.summary("interrupted") if timer is not None else None
        paths = write_outputs(study, settings, out, data, command, timing=timing)
        raise SearchInterrupted(SearchResult(study, out, paths, "interrupted",
                                             timing=timing)) from None
    timing = timer.summary(stopped) if timer is not None else None
    paths = write_outputs(study, settings, out, data, command, confirmation, timing)
    return SearchResult(study, out, paths, stopped, confirmation, timing)
