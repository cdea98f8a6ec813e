"""How well any ranker can agree with a noisy reference: the reference is the mean of k seeds'
longer runs, and its seeds disagree, so even the true ranking would not reach tau 1 against it.

Seed-to-seed agreement r1 (mean Pearson correlation between two seeds' longer runs) gives the
reliability of the k-seed mean by the Spearman-Brown formula, R_k = k r1 / (1 + (k - 1) r1). The
best any ranker can correlate with that mean is sqrt(R_k) (the correlation of the true score with
it); taus are converted through Greiner's relation tau = (2 / pi) arcsin(r), which holds for
normal scores. A ranker's tau corrected for the reference's unreliability divides its
correlation by sqrt(R_k): what it would score against an infinitely repeated reference.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["REFERENCE_STATISTICS", "corrected_tau", "reliability", "robust_reference"]

# Ways to pool the reference's seeds: a failed run (one seed far below the others) pulls the
# mean down; the median and the mean without the worst seed resist it.
REFERENCE_STATISTICS = {
    "mean": lambda runs: runs.mean(axis=1),
    "median": lambda runs: np.median(runs, axis=1),
    "mean without the worst": lambda runs: np.sort(runs, axis=1)[:, 1:].mean(axis=1),
}


def _tau_of(r: float) -> float:
    return 2 / math.pi * math.asin(max(-1.0, min(1.0, r)))


def _r_of(tau: float) -> float:
    return math.sin(math.pi * tau / 2)


def reliability(frame: pd.DataFrame, columns: list[str]) -> dict:
    """Seed agreement of the reference's runs (`columns`, one per seed), the reliability of
    their mean and the tau ceiling it implies."""
    pairs = [frame[a].corr(frame[b]) for a, b in itertools.combinations(columns, 2)]
    single = float(sum(pairs) / len(pairs))
    k = len(columns)
    mean_reliability = k * single / (1 + (k - 1) * single) if single > -1 / (k - 1) else 0.0
    ceiling = _tau_of(math.sqrt(max(0.0, mean_reliability)))
    return {"seed_agreement_r": single, "seeds": k, "reliability": mean_reliability,
            "ceiling_tau": ceiling}


def corrected_tau(tau: float, record: dict) -> float | None:
    """`tau` corrected for the reference's unreliability (None when it has none to speak of)."""
    rel = record["reliability"]
    if rel <= 0:
        return None
    return _tau_of(_r_of(tau) / math.sqrt(rel))


def robust_reference(frame: pd.DataFrame, columns: list[str], resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> dict | None:
    """Per way of pooling seeds, how well the pool of all seeds but one ranks the held-out
    seed's runs (mean Kendall tau over the held-out seeds; the pooling that predicts an
    independent run best is the more reliable reference), and its gain over the mean with a
    percentile bootstrap interval over the architectures. None with fewer than 3 seeds or 8
    architectures."""
    if len(columns) < 3 or len(frame) < 8:
        return None
    runs = frame[columns].to_numpy(dtype=float)

    def held_out(pool, rows) -> float:
        part = runs[rows]
        return float(np.mean([stats.kendalltau(pool(np.delete(part, s, axis=1)),
                                               part[:, s]).statistic
                              for s in range(len(columns))]))

    everything = np.arange(len(runs))
    found = {}
    for name, pool in REFERENCE_STATISTICS.items():
        entry = {"kendall": round(held_out(pool, everything), 3)}
        if name != "mean":
            boot = stats.bootstrap(
                (everything,), lambda rows: held_out(pool, rows.astype(int))
                - held_out(REFERENCE_STATISTICS["mean"], rows.astype(int)),
                vectorized=False, n_resamples=resamples, method="percentile",
                confidence_level=confidence, random_state=seed)
            entry["gain"] = round(entry["kendall"] - found["mean"]["kendall"], 3)
            entry["interval"] = [round(float(boot.confidence_interval.low), 3),
                                 round(float(boot.confidence_interval.high), 3)]
        found[name] = entry
    return found
