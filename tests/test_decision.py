"""Replayed searches over logged trainings (synthetic logs with a known answer)."""

import math

import numpy as np
import pytest

from mfsearch.search.decision import (Procedure, decision_quality, flat, outcomes, replay,
                                      rung_taus, same_compute)

DEFAULT = Procedure("default", candidates=24, rungs=(20, 60), eta=3, finalists=3,
                    confirm_seeds=2, control_runs=3)


def _log(archs=40, seeds=4, steps=60, noise=0.0, seed=0):
    """Losses whose mean over any prefix ranks architectures by quality, plus seed noise."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(size=archs)
    curve = np.linspace(2.0, 1.0, steps)
    losses = curve[None, None, :] - 0.1 * quality[:, None, None] \
        + noise * rng.normal(size=(archs, seeds, 1))
    return losses, quality


def test_steps_of_the_default_procedure_and_its_flat_twin():
    # 24 x 20 steps, the top 8 on to 60, 3 finalists x 2 seeds and the control x 3 at 60
    assert DEFAULT.steps_used() == 24 * 20 + 8 * 40 + 3 * 2 * 60 + 3 * 60 == 1340
    assert same_compute(DEFAULT, 60).candidates == 22
    assert flat(12, 60).steps_used() == 720


def test_a_faithful_proxy_picks_the_best_of_its_candidates():
    losses, quality = _log()
    rng = np.random.default_rng(1)
    for procedure in (DEFAULT, flat(12, 60)):
        pick = replay(procedure, losses, rng)
        assert quality[pick] >= np.quantile(quality, 0.5)
    # with every architecture a candidate, the pick is the best one
    assert replay(flat(40, 60), losses, rng) == int(np.argmax(quality))


def test_outcomes_count_the_top_quartile_and_regret():
    reference = np.array([0.1, 0.4, 0.3, 0.2, 0.9, 0.5, 0.6, 0.8])
    rate, regret = outcomes(np.array([4, 7, 0]), reference)
    assert rate == pytest.approx(2 / 3) and regret == pytest.approx((0 + 0.1 + 0.8) / 3)


def test_decision_quality_against_random_choice():
    losses, quality = _log(noise=0.0)
    found = decision_quality([DEFAULT, same_compute(DEFAULT, 60)], losses, quality,
                             searches=200, resamples=30)
    assert set(found) == {"default", "flat", "random"}
    assert found["random"]["top_quartile_rate"] == pytest.approx(math.ceil(40 / 4) / 40)
    assert found["default"]["top_quartile_rate"] == 1.0 and found["default"]["regret"] < 0.5
    low, high = found["flat"]["interval"]["top_quartile_rate"]
    assert low <= found["flat"]["top_quartile_rate"] <= high
    assert found["default"]["steps"] == 1340 and found["flat"]["candidates"] == 22
    # seed noise as large as the differences between architectures costs regret
    noisy, _ = _log(noise=0.1)
    found = decision_quality([DEFAULT, same_compute(DEFAULT, 60)], noisy, quality,
                             searches=400, resamples=20)
    assert found["default"]["regret"] > 0 and found["flat"]["regret"] > 0


def test_rung_taus_are_shares_of_the_ceiling():
    losses, quality = _log()
    taus = rung_taus(losses, quality, (20, 60), ceiling=0.5)
    assert [t["steps"] for t in taus] == [20, 60]
    assert all(t["kendall"] == 1.0 and t["of_ceiling"] == 2.0 for t in taus)
