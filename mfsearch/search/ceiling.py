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

import pandas as pd

__all__ = ["corrected_tau", "reliability"]


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
