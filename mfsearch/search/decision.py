"""Decision quality: how often a search procedure's pick lies in the reference's top quartile
of the band, and how much reference top-1 it gives up (regret), estimated by replaying searches
over logged trainings.

Every architecture of a fidelity measurement has proxy runs with several seeds, each with its
per-step losses, so a rung's running score (minus the mean loss over the first r steps) is read
from the run: candidates train under one schedule, as the search trains them. A replay draws the
candidates from the measured architectures without replacement, gives each a random order of
its seeds (the first trains, the next ones confirm), prunes synchronously to the top 1/eta at
each rung (Optuna's asynchronous rule compares a candidate with those before it; with many
candidates the two keep about the same share), confirms the finalists and picks the best mean.
The interval is a bootstrap over the architectures: another set of architectures from the same
band moves the figures that much.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .rungs import DEFAULT_TRIALS, rung_steps
from .study import SearchSettings


@dataclass(frozen=True)
class Procedure:
    """A search procedure as it spends training steps."""

    name: str
    candidates: int
    rungs: tuple[int, ...]  # steps at which candidates are compared; the last is the top
    eta: int = 3
    finalists: int = 0  # retrained with `confirm_seeds` further seeds at the top fidelity
    confirm_seeds: int = 0
    control_runs: int = 0  # the control's trainings at the top fidelity (compute, no pick)

    def steps_used(self) -> int:
        total, alive, before = 0, self.candidates, 0
        for i, rung in enumerate(self.rungs):
            total += alive * (rung - before)
            before = rung
            if i < len(self.rungs) - 1:
                alive = math.ceil(alive / self.eta)
        extra = self.finalists * self.confirm_seeds + self.control_runs
        return total + extra * self.rungs[-1]


def default_procedure(steps: int, seeds: int) -> Procedure:
    """`mfsearch budget`'s defaults (candidates, pruner rungs, finalists, confirmation seeds and
    the control's runs) at a proxy of `steps` steps, with at most `seeds` seeds per candidate."""
    defaults = {f.name: f.default for f in dataclasses.fields(SearchSettings)}
    first = defaults["first_rung"] or max(1, steps // defaults["eta"])
    confirm = min(defaults["confirm_seeds"], seeds - 1)
    return Procedure("default", candidates=DEFAULT_TRIALS,
                     rungs=rung_steps(steps, defaults["eta"], first), eta=defaults["eta"],
                     finalists=defaults["finalists"], confirm_seeds=confirm,
                     control_runs=1 + confirm)


def flat(candidates: int, steps: int, name: str = "flat") -> Procedure:
    return Procedure(name=name, candidates=candidates, rungs=(steps,))


def same_compute(procedure: Procedure, steps: int, name: str = "flat") -> Procedure:
    """The flat procedure that trains as many steps as `procedure` (the nearest whole number of
    candidates, at most as many steps)."""
    return flat(max(1, procedure.steps_used() // steps), steps, name)


def running_scores(losses: np.ndarray, steps: int) -> np.ndarray:
    """Minus the mean loss over the first `steps` steps, for every (architecture, seed)."""
    return -losses[..., :steps].mean(axis=-1)


def replay(procedure: Procedure, losses: np.ndarray, rng: np.random.Generator) -> int:
    """The architecture index one replayed search picks. `losses`: (archs, seeds, steps)."""
    archs, seeds, _ = losses.shape
    chosen = rng.choice(archs, size=min(procedure.candidates, archs), replace=False)
    order = rng.permuted(np.tile(np.arange(seeds), (len(chosen), 1)), axis=1)
    alive = np.arange(len(chosen))
    for rung in procedure.rungs[:-1]:
        score = running_scores(losses[chosen[alive], order[alive, 0]], rung)
        keep = math.ceil(len(alive) / procedure.eta)
        alive = alive[np.argsort(-score, kind="stable")[:keep]]
    top = procedure.rungs[-1]
    score = running_scores(losses[chosen[alive], order[alive, 0]], top)
    if not procedure.finalists:
        return int(chosen[alive[int(np.argmax(score))]])
    finalists = alive[np.argsort(-score, kind="stable")[:procedure.finalists]]
    used = order[finalists, :1 + min(procedure.confirm_seeds, seeds - 1)]
    means = np.array([running_scores(losses[chosen[f], s], top).mean()
                      for f, s in zip(finalists, used)])
    return int(chosen[finalists[int(np.argmax(means))]])


def outcomes(picks: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(share of picks in the reference's top quartile, mean regret) for picks over a pool."""
    quartile = math.ceil(len(reference) / 4)
    top = np.zeros(len(reference), dtype=bool)
    top[np.argsort(-reference, kind="stable")[:quartile]] = True
    return float(top[picks].mean()), float((reference.max() - reference[picks]).mean())


def _estimate(procedure: Procedure | None, losses: np.ndarray, reference: np.ndarray,
              searches: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    if procedure is None:  # random choice: every architecture of the pool equally
        picks = np.arange(len(reference))
    else:
        picks = np.array([replay(procedure, losses, rng) for _ in range(searches)])
    return outcomes(picks, reference)


def decision_quality(procedures: list[Procedure], losses: np.ndarray, reference: np.ndarray,
                     searches: int = 2000, resamples: int = 200, seed: int = 0,
                     confidence: float = 0.95, intervals: bool = True) -> dict:
    """Per procedure (and `random`): the top-quartile rate, the mean regret, the steps it
    trains, and bootstrap intervals of both over the architectures (None without
    `intervals`: a pool too small to resample)."""
    result = {}
    for procedure in [*procedures, None]:
        name = procedure.name if procedure else "random"
        rate, regret = _estimate(procedure, losses, reference, searches, seed)
        result[name] = {"top_quartile_rate": round(rate, 3), "regret": round(regret, 4),
                        "interval": _intervals(procedure, losses, reference, searches,
                                               resamples, seed, confidence)
                        if intervals else None}
        if procedure is not None:
            result[name] |= {"candidates": procedure.candidates, "rungs": list(procedure.rungs),
                             "steps": procedure.steps_used()}
    return result


def _intervals(procedure, losses, reference, searches, resamples, seed, confidence) -> dict:
    """Percentile bootstrap over the architectures of both figures."""

    def statistic(idx):
        idx = idx.astype(int)
        return np.array(_estimate(procedure, losses[idx], reference[idx],
                                  max(50, searches // 10), seed))

    boot = stats.bootstrap((np.arange(len(reference)),), statistic, vectorized=False,
                           n_resamples=resamples, method="percentile",
                           confidence_level=confidence, random_state=seed)
    low, high = boot.confidence_interval.low, boot.confidence_interval.high
    return {"top_quartile_rate": [round(float(low[0]), 3), round(float(high[0]), 3)],
            "regret": [round(float(low[1]), 4), round(float(high[1]), 4)]}


def rung_taus(losses: np.ndarray, reference: np.ndarray, rungs: tuple[int, ...],
              ceiling: float | None) -> list[dict]:
    """Kendall tau of the first seed's running score at each rung against the reference, and
    as a share of the reference's ceiling."""
    found = []
    for rung in rungs:
        tau = float(stats.kendalltau(running_scores(losses[:, 0], rung), reference).statistic)
        found.append({"steps": rung, "kendall": round(tau, 3),
                      "of_ceiling": round(tau / ceiling, 3) if ceiling else None})
    return found
