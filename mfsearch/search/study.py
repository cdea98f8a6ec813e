"""The search loop: sample from the space, reject candidates outside the MAdds band before they
are built, train the feasible ones with the proxy, and record everything in an Optuna study
that survives interruption."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import optuna
from optuna.trial import TrialState

from ..cost.mobile_former import analyze
from ..data import Dataset
from ..errors import UserError
from ..proxy.train import ProxyConfig, TrainingDiverged, train_proxy
from ..spec import spec_to_yaml
from .space import SearchSpace

OBJECTIVES = {"acc": "maximize", "madds": "minimize", "params": "minimize"}
MAX_CONSECUTIVE_REJECTS = 5000


@dataclass(frozen=True)
class Band:
    budget: int
    tolerance: float
    convention: str
    resolution: int

    @property
    def low(self) -> int:
        return math.ceil((1 - self.tolerance) * self.budget)

    def contains(self, madds: int) -> bool:
        return self.low <= madds <= self.budget


@dataclass
class SearchSettings:
    space: SearchSpace
    band: Band
    trials: int
    proxy: ProxyConfig
    objectives: tuple[str, ...] = ("acc",)
    sampler: str = "tpe"
    seed: int = 0


def parse_objectives(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in OBJECTIVES]
    if not names or bad or names[0] != "acc" or len(set(names)) != len(names):
        raise UserError(f"--objectives {text!r}: expected acc, optionally followed by madds "
                        f"and/or params (e.g. acc,madds)")
    return names


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"--sampler {name!r}: expected tpe, nsga2 or random")


def open_study(storage: str, name: str, settings: SearchSettings) -> optuna.Study:
    directions = [OBJECTIVES[o] for o in settings.objectives]
    sampler = make_sampler(settings.sampler, settings.seed)
    try:
        study = optuna.create_study(storage=storage, study_name=name, directions=directions,
                                    sampler=sampler, load_if_exists=True)
    except Exception as exc:  # storage URLs fail in many driver-specific ways
        raise UserError(f"cannot open study {name!r} in {storage}: "
                        f"{str(exc).splitlines()[0]}") from None
    if [d.name.lower() for d in study.directions] != directions:
        raise UserError(f"study {name!r} exists with other objectives; use another --out or "
                        "--study-name")
    return study


def requeue_interrupted(study: optuna.Study) -> int:
    """Trials left RUNNING by a killed process: mark them failed and queue their parameters
    again, so a rerun retries them. Only safe when this process owns the storage."""
    count = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(t.number, state=TrialState.FAIL)
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number,
                                                  "retry_reason": "interrupted"})
        count += 1
    return count


def trained(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("feasible")]


def run_trial(study: optuna.Study, settings: SearchSettings, data: Dataset,
              on_step: Callable[[int, float], None] | None = None) -> str:
    """Ask one candidate and finish it: 'trained', 'infeasible' or 'failed'."""
    trial = study.ask()
    try:
        spec = settings.space.sample(trial)
        if spec is None:
            trial.set_user_attr("reject_reason", "widths shrink across stages")
            study.tell(trial, state=TrialState.PRUNED)
            return "infeasible"
        band = settings.band
        cost = analyze(spec, band.resolution)
        madds = cost.madds(band.convention)
        trial.set_user_attr("madds", madds)
        trial.set_user_attr("params", cost.params)
        trial.set_user_attr("pillars", {k: v.madds(band.convention)
                                        for k, v in cost.pillars.items()})
        trial.set_user_attr("spec", spec_to_yaml(spec))
        if not band.contains(madds):
            trial.set_user_attr("reject_reason", f"MAdds {madds:,} outside [{band.low:,}, "
                                                 f"{band.budget:,}]")
            study.tell(trial, state=TrialState.PRUNED)
            return "infeasible"
        trial.set_user_attr("feasible", True)
        result = train_proxy(spec, data, settings.proxy, progress=on_step)
    except TrainingDiverged as exc:
        trial.set_user_attr("fail_reason", str(exc))
        study.tell(trial, state=TrialState.FAIL)
        return "failed"
    except BaseException:
        trial.set_user_attr("fail_reason", "interrupted")
        study.tell(trial, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number,
                                                      "retry_reason": "interrupted"})
        raise
    trial.set_user_attr("proxy_top1", result.accuracy)
    trial.set_user_attr("train_seconds", round(result.seconds, 2))
    trial.set_user_attr("final_loss", result.final_loss)
    values = {"acc": result.accuracy, "madds": madds, "params": cost.params}
    study.tell(trial, [values[o] for o in settings.objectives])
    return "trained"


def check_reachable(space: SearchSpace, band: Band) -> tuple[int, int]:
    lo = analyze(space.extreme(smallest=True), band.resolution).madds(band.convention)
    hi = analyze(space.extreme(smallest=False), band.resolution).madds(band.convention)
    if band.budget < lo or band.low > hi:
        raise UserError(f"budget {band.budget / 1e6:.1f}M (band {band.low / 1e6:.1f}M-"
                        f"{band.budget / 1e6:.1f}M) is outside what the space {space.name} can "
                        f"reach: {lo / 1e6:.1f}M to {hi / 1e6:.1f}M {band.convention} MAdds at "
                        f"{band.resolution}x{band.resolution}")
    return lo, hi


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'study.db').resolve()}"
