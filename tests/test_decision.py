"""Replayed searches over logged trainings (synthetic logs with a known answer)."""

import math
from dataclasses import replace

import numpy as np
import optuna
import pandas as pd
import pytest

from mfsearch.fidelity import decision as decision_module
from mfsearch.fidelity.ceiling import robust_reference
from mfsearch.fidelity.decision import (Procedure, at_compute, decision_quality, expected_steps,
                                        flat, outcomes, promoted, replay, rung_taus)

DEFAULT = Procedure("default", candidates=24, rungs=(20, 60), eta=3, finalists=3,
                    confirm_seeds=2, control_runs=3)
FLAT_22 = flat(22, 60)


def _log(archs=40, seeds=4, steps=60, noise=0.0, seed=0):
    """Losses whose mean over any prefix ranks architectures by quality, plus seed noise."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=archs)
    curve = np.linspace(2.0, 1.0, steps)
    losses = curve[None, None, :] - 0.1 * quality[:, None, None] \
        + noise * rng.normal(size=(archs, seeds, 1))
    return losses, quality


def test_the_promotion_rule_is_optunas():
    """Optuna's SuccessiveHalvingPruner, asked trial after trial, against `promoted`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=20, reduction_factor=3,
                                                    min_early_stopping_rate=0)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    values = np.random.default_rng(3).normal(size=30).round(3).tolist()
    reported, theirs, ours = [], [], []
    for value in values:
        trial = study.ask()
        trial.report(value, 20)
        theirs.append(not trial.should_prune())
        reported.append(value)
        ours.append(promoted(value, reported, eta=3))
        if theirs[-1]:
            study.tell(trial, value)
        else:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert ours == theirs
    assert 6 <= sum(ours) <= 14  # about a third of 30 go on, early ones more easily


def test_brackets_and_steps_of_the_procedures():
    assert DEFAULT.brackets() == [(1, (20,))]
    # Optuna's Hyperband at 20..60, eta 3: two brackets, 3 parts in 5 prune at 20, 2 never
    hyperband = replace(DEFAULT, pruner="hyperband")
    assert hyperband.brackets() == [(3, (20,)), (2, ())]
    assert replace(hyperband, rungs=(10, 30, 60)).brackets() == [(3, (10, 30)), (2, (30,))]
    assert DEFAULT.extra_steps() == (3 * 2 + 3) * 60
    losses, quality = _log()
    assert expected_steps(flat(12, 60), losses) == 720
    # every candidate trains 20 steps, the survivors 40 more; the confirmation is added
    steps = expected_steps(DEFAULT, losses)
    assert 24 * 20 + 6 * 40 + 540 <= steps <= 24 * 20 + 14 * 40 + 540
    assert at_compute(flat(1, 60), steps, losses, "flat").candidates == int(steps // 60)
    same = at_compute(hyperband, steps, losses, "hyperband")
    assert same.name == "hyperband" and same.candidates < DEFAULT.candidates
    assert expected_steps(same, losses) <= steps


def test_a_faithful_proxy_picks_the_best_of_its_candidates():
    losses, quality = _log()
    rng = np.random.default_rng(1)
    for procedure in (DEFAULT, flat(12, 60)):
        pick, _ = replay(procedure, losses, rng)
        assert quality[pick] >= np.quantile(quality, 0.5)
    # with every architecture a candidate, the pick is the best one
    assert replay(flat(40, 60), losses, rng) == (int(np.argmax(quality)), 40 * 60)


def test_outcomes_count_the_top_quartile_and_regret():
    reference = np.array([0.1, 0.4, 0.3, 0.2, 0.9, 0.5, 0.6, 0.8])
    rate, regret = outcomes(np.array([4, 7, 0]), reference)
    assert rate == pytest.approx(2 / 3) and regret == pytest.approx((0 + 0.1 + 0.8) / 3)


def test_decision_quality_against_random_choice():
    losses, quality = _log(noise=0.0)
    found = decision_quality([DEFAULT, FLAT_22], losses, quality,
                             searches=200, resamples=30)
    assert set(found) == {"default", "flat", "random"}
    assert found["random"]["top_quartile_rate"] == pytest.approx(math.ceil(40 / 4) / 40)
    assert found["default"]["top_quartile_rate"] == 1.0 and found["default"]["regret"] < 0.5
    low, high = found["flat"]["interval"]["top_quartile_rate"]
    assert low <= found["flat"]["top_quartile_rate"] <= high
    assert found["flat"]["steps"] == 22 * 60 and found["flat"]["candidates"] == 22
    assert found["default"]["pruner"] == "sha" and found["flat"]["pruner"] is None
    # seed noise as large as the differences between architectures costs regret
    noisy, _ = _log(noise=0.1)
    found = decision_quality([DEFAULT, FLAT_22], noisy, quality,
                             searches=400, resamples=20)
    assert found["default"]["regret"] > 0 and found["flat"]["regret"] > 0


def test_rung_taus_are_shares_of_the_ceiling():
    losses, quality = _log()
    taus = rung_taus(losses, quality, (20, 60), ceiling=0.5)
    assert [t["steps"] for t in taus] == [20, 60]
    assert all(t["kendall"] == 1.0 and t["of_ceiling"] == 2.0 for t in taus)


def test_a_robust_reference_is_measured_against_the_mean():
    """Seeds that agree except for failed runs: the median resists them, the mean does not."""
    rng = np.random.default_rng(0)
    quality = np.linspace(0.80, 0.90, 24)
    runs = quality[:, None] + 0.004 * rng.normal(size=(24, 4))
    runs[np.arange(0, 24, 3), rng.integers(0, 4, size=8)] -= 0.15  # one failed run in every third
    frame = pd.DataFrame(runs, columns=[f"long_seed{s}" for s in range(4)])
    found = robust_reference(frame, list(frame.columns), resamples=200)
    assert set(found) == {"mean", "median", "mean without the worst"}
    assert "gain" not in found["mean"]
    median = found["median"]
    assert median["gain"] == pytest.approx(median["kendall"] - found["mean"]["kendall"], abs=2e-3)
    assert median["gain"] > 0 and median["interval"][0] > 0  # measurably better
    assert robust_reference(frame.iloc[:, :2], ["long_seed0", "long_seed1"]) is None
    assert robust_reference(frame.head(5), list(frame.columns)) is None


def test_workers_at_one_pace_decide_as_one_worker_does():
    """With K candidates training at once, each rung judges a candidate against what had been
    reported there when it arrived. At one pace for all, candidates reach every rung in the
    order they started, so Optuna's rule promotes the same ones as with one worker."""
    losses, _ = _log(noise=0.3)
    three_rungs = replace(DEFAULT, rungs=(5, 15, 60), eta=3)
    for procedure in (DEFAULT, three_rungs, replace(DEFAULT, pruner="hyperband")):
        for workers in (4, 30):
            parallel = replace(procedure, workers=workers)
            for seed in range(20):
                assert replay(parallel, losses, np.random.default_rng(seed)) == \
                    replay(procedure, losses, np.random.default_rng(seed))


def test_with_several_workers_a_fast_candidate_overtakes():
    """Candidates a, b, c start in that order; one rung at 10 steps, eta 2 (only the best so
    far goes on while fewer than 2... then the top half). Scores: b best, then c, then a.
    One worker judges c against a and b, and stops it. With two workers and b slow, c (fast)
    starts when a finishes and reaches the rung before b: judged against a alone, it goes on."""
    losses = np.ones((3, 1, 20)) * np.array([2.0, 1.0, 1.5])[:, None, None]
    procedure = Procedure("p", candidates=3, rungs=(10, 20), eta=2)
    pace = np.array([1.0, 10.0, 0.1])  # seconds per step of a, b, c

    def trained(workers: int) -> list[int]:
        steps = np.full(3, 20)
        decision_module._promote_async(replace(procedure, workers=workers), losses[:, 0],
                                       procedure.brackets(), np.zeros(3, dtype=int), steps,
                                       pace)
        return steps.tolist()

    assert trained(1) == [20, 20, 10]
    assert trained(2) == [20, 20, 20]
