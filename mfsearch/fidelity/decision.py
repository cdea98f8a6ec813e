"""Decision quality: how often a search procedure's pick lies in the reference's top quartile
of the band, and how much reference top-1 it gives up (regret), estimated by replaying searches
over logged trainings.

Every architecture of a fidelity measurement has proxy runs with several seeds, each with its
per-step losses, so a rung's running score (minus the mean loss over the first r steps) is read
from the run: candidates train under one schedule, as the search trains them. A replay draws the
candidates from the measured architectures without replacement and trains them one after
another, each with a random order of its seeds (the first trains, the next ones confirm); at
each rung it applies Optuna's own promotion rule (`promoted`) to what the candidates before it
reported, in their Hyperband bracket where there are brackets; then it confirms the finalists
and picks the best mean. The interval is a bootstrap over the architectures: another set of
architectures from the same band moves the figures that much."""

from __future__ import annotations

import dataclasses
import heapq
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .. import defaults
from ..nas.rungs import rung_steps
from ..nas.settings import SearchSettings


@dataclass(frozen=True)
class Procedure:
    """A search procedure as it spends training steps."""

    name: str
    candidates: int
    rungs: tuple[int, ...]  # steps at which candidates are compared; the last is the top
    eta: int = 3
    pruner: str = "sha"  # "sha" or "hyperband" (rungs.PRUNERS); one rung: nothing is pruned
    finalists: int = 0  # retrained with `confirm_seeds` further seeds at the top fidelity
    confirm_seeds: int = 0
    control_runs: int = 0  # the control's trainings at the top fidelity (compute, no pick)
    # Candidates training at once (parallel workers on one study): a rung compares with what
    # had been reported when the candidate reached it, not with every earlier candidate.
    workers: int = 1

    def brackets(self) -> list[tuple[int, tuple[int, ...]]]:
        """(share of the candidates, rungs that prune) per bracket, as Optuna lays them out:
        successive halving is one bracket; Hyperband runs floor(log_eta(top / first)) + 1 of
        them, bracket b pruning from the rung first x eta^b on, and gives bracket b (s = n - 1
        - b) ceil(n eta^s / (s + 1)) parts of every n trials (HyperbandPruner's allocation)."""
        pruning = self.rungs[:-1]
        if self.pruner != "hyperband" or not pruning:
            return [(1, pruning)]
        n = 1 + sum(1 for k in range(1, len(self.rungs) + 1)
                    if self.rungs[0] * self.eta ** k <= self.rungs[-1])
        return [(math.ceil(n * self.eta ** (n - 1 - b) / (n - b)), pruning[b:])
                for b in range(n)]

    def extra_steps(self) -> int:
        """The confirmation stage's steps: finalists' further seeds and the control's runs."""
        return (self.finalists * self.confirm_seeds + self.control_runs) * self.rungs[-1]


def default_procedure(steps: int, seeds: int) -> Procedure:
    """`mfsearch budget`'s defaults (candidates, pruner rungs, finalists, confirmation seeds and
    the control's runs) at a proxy of `steps` steps, with at most `seeds` seeds per candidate."""
    settings = {f.name: f.default for f in dataclasses.fields(SearchSettings)}
    first = settings["first_rung"] or max(1, steps // settings["eta"])
    confirm = min(settings["confirm_seeds"], seeds - 1)
    return Procedure("default", candidates=defaults.TRIALS,
                     rungs=rung_steps(steps, settings["eta"], first), eta=settings["eta"],
                     pruner=settings["pruner"], finalists=settings["finalists"],
                     confirm_seeds=confirm, control_runs=1 + confirm)


def flat(candidates: int, steps: int, name: str = "flat") -> Procedure:
    return Procedure(name=name, candidates=candidates, rungs=(steps,))


def at_compute(procedure: Procedure, steps_used: float, losses: np.ndarray,
               name: str) -> Procedure:
    """`procedure` with as many candidates (at most one per measured architecture) as fit in
    `steps_used` steps on average: procedures compared at the same compute."""
    def fits(n: int) -> bool:
        return expected_steps(dataclasses.replace(procedure, candidates=n), losses) <= steps_used

    candidates = max((n for n in range(1, losses.shape[0] + 1) if fits(n)), default=1)
    return dataclasses.replace(procedure, name=name, candidates=candidates)


def promoted(value: float, rung_values: list[float], eta: int) -> bool:
    """Optuna's SuccessiveHalvingPruner rule for a maximised score: a candidate goes on from a
    rung if its value is within the top 1/eta of every value reported there so far (its own
    included); while fewer than eta have reported, only the best so far goes on."""
    rank = max(len(rung_values) // eta, 1)
    return value >= sorted(rung_values, reverse=True)[rank - 1]


def running_scores(losses: np.ndarray, steps: int) -> np.ndarray:
    """Minus the mean loss over the first `steps` steps, for every (architecture, seed)."""
    return -losses[..., :steps].mean(axis=-1)


def replay(procedure: Procedure, losses: np.ndarray, rng: np.random.Generator,
           pace: np.ndarray | None = None) -> tuple[int, int]:
    """(the architecture one replayed search picks, the steps it trains). `losses`: (archs,
    seeds, steps). Candidates train one after another in a random order, each with a random
    first seed; the pruner sees what the candidates before it reported, as with one worker."""
    drawn = _candidate_stage(procedure, losses, rng, pace)
    steps = int(drawn[2].sum()) + procedure.extra_steps()
    return _pick(losses, *drawn, procedure.rungs[-1], procedure.finalists,
                 procedure.confirm_seeds), steps


def _candidate_stage(procedure: Procedure, losses: np.ndarray, rng: np.random.Generator,
                     pace: np.ndarray | None = None):
    """(the candidates drawn, each one's seeds in the order it trains them, the steps each
    trained before a rung stopped it or it reached the top) of one replayed search stage."""
    archs, seeds, _ = losses.shape
    chosen = rng.choice(archs, size=min(procedure.candidates, archs), replace=False)
    order = rng.permuted(np.tile(np.arange(seeds), (len(chosen), 1)), axis=1)
    first = losses[chosen, order[:, 0]]  # (candidates, steps): each one's training
    brackets = procedure.brackets()
    shares = np.array([share for share, _ in brackets], dtype=float)
    bracket_of = rng.choice(len(brackets), size=len(chosen), p=shares / shares.sum())
    trained = np.full(len(chosen), procedure.rungs[-1])
    if procedure.workers > 1:
        _promote_async(procedure, first, brackets, bracket_of, trained,
                       np.ones(len(chosen)) if pace is None else pace[chosen])
    else:
        reported: dict[tuple[int, int], list[float]] = {}
        for c, b in enumerate(bracket_of):
            for rung in brackets[b][1]:
                value = float(running_scores(first[c], rung))
                reported.setdefault((b, rung), []).append(value)
                if not promoted(value, reported[b, rung], procedure.eta):
                    trained[c] = rung
                    break
    return chosen, order, trained


def _pick(losses: np.ndarray, chosen: np.ndarray, order: np.ndarray, trained: np.ndarray,
          top: int, finalists: int, confirm_seeds: int) -> int:
    """The architecture a search stage's survivors lead to: the best first training, or, with
    finalists, the best mean once each has trained its further seeds."""
    alive = np.flatnonzero(trained == top)
    first = losses[chosen[alive], order[alive, 0]]
    score = running_scores(first, top)
    if not finalists:
        return int(chosen[alive[int(np.argmax(score))]])
    best = np.argsort(-score, kind="stable")[:finalists]
    seeds = order[alive[best], :1 + min(confirm_seeds, losses.shape[1] - 1)]
    means = np.array([running_scores(losses[chosen[alive[f]], s], top).mean()
                      for f, s in zip(best, seeds)])
    return int(chosen[alive[best[int(np.argmax(means))]]])


def procedure_table(losses: np.ndarray, reference: np.ndarray, steps: int,
                    etas: tuple[int, ...] = (2, 3, 4, 5), finalists: int = 4,
                    confirm_seeds: int = 3, searches: int = 500, seed: int = 0) -> dict:
    """Successive halving replayed at every candidates count the measurement holds, every eta
    of `etas` (first rung steps / eta) and every finalists (1..) and further seeds (1..) count:
    what a search planned to fit a time limit chooses from. Per eta: `trainings[n - 1]`, the
    search stage's mean steps over n candidates in top trainings, and `top_quartile_rate` /
    `regret` [n - 1][finalists - 1][seeds - 1]. Each (eta, n) replays the same searches for
    every finalists and seeds count, so their comparison carries no replay noise."""
    archs, logged, _ = losses.shape
    confirm_seeds = min(confirm_seeds, logged - 1)
    table = {"steps": steps, "searches": searches, "candidates": archs,
             "finalists": finalists, "confirm_seeds": confirm_seeds, "etas": {}}
    for eta in etas:
        rungs = rung_steps(steps, eta, max(1, steps // eta))
        trainings, rates, regrets = [], [], []
        for n in range(1, archs + 1):
            procedure = Procedure("table", candidates=n, rungs=rungs, eta=eta)
            rng = np.random.default_rng(seed)
            picks = np.zeros((searches, finalists, confirm_seeds), dtype=int)
            spent = 0
            for k in range(searches):
                drawn = _candidate_stage(procedure, losses, rng)
                spent += int(drawn[2].sum())
                for f in range(finalists):
                    for s in range(confirm_seeds):
                        picks[k, f, s] = _pick(losses, *drawn, steps, f + 1, s + 1)
            trainings.append(round(spent / searches / steps, 3))
            found = [[outcomes(picks[:, f, s], reference) for s in range(confirm_seeds)]
                     for f in range(finalists)]
            rates.append([[round(r, 3) for r, _ in row] for row in found])
            regrets.append([[round(g, 4) for _, g in row] for row in found])
        table["etas"][str(eta)] = {"rungs": list(rungs), "trainings": trainings,
                                   "top_quartile_rate": rates, "regret": regrets}
    return table


def _promote_async(procedure: Procedure, first: np.ndarray, brackets, bracket_of,
                   trained: np.ndarray, pace: np.ndarray) -> None:
    """Successive halving with `procedure.workers` candidates training at once, candidate c
    taking pace[c] per step: a free worker starts the next candidate, which reports at each of
    its rungs and is judged against the values reported at that rung so far (Optuna's pruner
    reads the study as it is then); a stopped or finished candidate frees its worker. Fills
    `trained`. At one pace for all, reports reach every rung in the order candidates started,
    so the decisions are those of one worker; different paces let fast candidates overtake."""
    events: list[tuple[float, int, int]] = []  # (time, candidate, index of its next rung)
    started = 0

    def start(now: float) -> None:
        nonlocal started
        if started < len(bracket_of):
            c, rungs = started, brackets[bracket_of[started]][1]
            if rungs:
                heapq.heappush(events, (now + rungs[0] * pace[c], c, 0))
            else:  # a bracket that prunes nowhere trains to the top
                heapq.heappush(events, (now + procedure.rungs[-1] * pace[c], c, -1))
            started += 1

    for _ in range(procedure.workers):
        start(0)
    reported: dict[tuple[int, int], list[float]] = {}
    while events:
        now, c, k = heapq.heappop(events)
        b = bracket_of[c]
        rungs = brackets[b][1]
        if k < 0:
            start(now)
            continue
        rung = rungs[k]
        value = float(running_scores(first[c], rung))
        reported.setdefault((b, rung), []).append(value)
        if not promoted(value, reported[b, rung], procedure.eta):
            trained[c] = rung
            start(now)
        elif k + 1 < len(rungs):
            heapq.heappush(events, (now + (rungs[k + 1] - rung) * pace[c], c, k + 1))
        else:
            heapq.heappush(events, (now + (procedure.rungs[-1] - rung) * pace[c], c, -1))


def expected_steps(procedure: Procedure, losses: np.ndarray, searches: int = 500,
                   seed: int = 0) -> float:
    """The mean steps a procedure trains over replayed searches (pruning makes it vary)."""
    rng = np.random.default_rng(seed)
    return float(np.mean([replay(procedure, losses, rng)[1] for _ in range(searches)]))


def outcomes(picks: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(share of picks in the reference's top quartile, mean regret) for picks over a pool."""
    quartile = math.ceil(len(reference) / 4)
    top = np.zeros(len(reference), dtype=bool)
    top[np.argsort(-reference, kind="stable")[:quartile]] = True
    return float(top[picks].mean()), float((reference.max() - reference[picks]).mean())


def _estimate(procedure: Procedure | None, losses: np.ndarray, reference: np.ndarray,
              searches: int, seed: int, pace: np.ndarray | None = None
              ) -> tuple[float, float, float]:
    """(top-quartile rate, mean regret, mean steps) over `searches` replays."""
    rng = np.random.default_rng(seed)
    if procedure is None:  # random choice: every architecture of the pool equally
        return (*outcomes(np.arange(len(reference)), reference), 0.0)
    picks, steps = zip(*(replay(procedure, losses, rng, pace) for _ in range(searches)))
    return (*outcomes(np.array(picks), reference), float(np.mean(steps)))


def decision_quality(procedures: list[Procedure], losses: np.ndarray, reference: np.ndarray,
                     searches: int = 2000, resamples: int = 200, seed: int = 0,
                     confidence: float = 0.95, intervals: bool = True,
                     pace: np.ndarray | None = None) -> dict:
    """Per procedure (and `random`): the top-quartile rate, the mean regret, the steps it
    trains, and bootstrap intervals of both over the architectures (None without
    `intervals`: a pool too small to resample). `pace`: each architecture's time per step,
    for procedures with several workers (default: one pace for all)."""
    result = {}
    for procedure in [*procedures, None]:
        name = procedure.name if procedure else "random"
        rate, regret, steps = _estimate(procedure, losses, reference, searches, seed, pace)
        result[name] = {"top_quartile_rate": round(rate, 3), "regret": round(regret, 4),
                        "interval": _intervals(procedure, losses, reference, searches,
                                               resamples, seed, confidence, pace)
                        if intervals else None}
        if procedure is not None:
            result[name] |= {"candidates": procedure.candidates, "rungs": list(procedure.rungs),
                             "pruner": procedure.pruner if len(procedure.rungs) > 1 else None,
                             "finalists": procedure.finalists,
                             "confirm_seeds": procedure.confirm_seeds,
                             "steps": round(steps)}
    return result


def _intervals(procedure, losses, reference, searches, resamples, seed, confidence,
               pace=None) -> dict:
    """Percentile bootstrap over the architectures of both figures."""

    def statistic(idx):
        idx = idx.astype(int)
        return np.array(_estimate(procedure, losses[idx], reference[idx],
                                  max(50, searches // 10), seed,
                                  None if pace is None else pace[idx])[:2])

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
