"""Proxy fidelity: does the short proxy rank architectures like a longer training does?"""

from __future__ import annotations

import collections
import datetime
import itertools
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from ..families import analyze
from ..data import Dataset
from ..latency.measure import machine
from ..proxy.config import SCORES, ProxyConfig
from ..proxy.pool import threads_per_job, train_many
from ..space import random_specs
from .ceiling import corrected_tau, reliability, robust_reference
from .decision import (at_compute, decision_quality, default_procedure, expected_steps, flat,
                       procedure_table, rung_taus)
from ..nas.band import Band
from .training_log import TrainingLog


def sample_band(space, band: Band, count: int, seed: int, max_tries: int = 20000):
    """`count` distinct random specs whose MAdds lie in the band."""
    specs = []
    for spec in random_specs(space, seed, max_tries):
        if band.contains(analyze(spec, band.resolution).madds(band.convention)):
            specs.append(spec.replace(name=f"arch-{len(specs) + 1}"))
            if len(specs) == count:
                return specs
    raise RuntimeError(f"found only {len(specs)} architectures in the band after {max_tries} "
                       "samples")


BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95
# Below this many architectures resamples repeat so few distinct ones that an interval means
# nothing (and the acceptance asks for at least 8).
MIN_FOR_INTERVAL = 8


def _kendall(x, y) -> float:
    return float(stats.kendalltau(x, y).statistic)


def tau_interval(frame: pd.DataFrame, column: str, reference: str = "long",
                 minus: str | None = None) -> tuple[float, float] | None:
    """Bootstrap interval of `column`'s Kendall tau against `reference` (less `minus`'s tau,
    to compare two rankers on the same resamples), resampling architectures with all their
    columns, percentile method: how far another sample of as many architectures from the same
    band could move it. With a dozen architectures a tau's interval spans about +-0.3. None
    for fewer than MIN_FOR_INTERVAL architectures, or when a resample has no ranking."""
    if len(frame) < MIN_FOR_INTERVAL:
        return None
    x, ref = frame[column].to_numpy(), frame[reference].to_numpy()
    base = frame[minus].to_numpy() if minus else None

    def statistic(idx):
        tau = _kendall(x[idx], ref[idx])
        return tau - _kendall(base[idx], ref[idx]) if minus else tau

    with warnings.catch_warnings():  # a resample of one repeated architecture: NaN, said below
        warnings.simplefilter("ignore")
        ci = stats.bootstrap((np.arange(len(frame)),), statistic, vectorized=False,
                             n_resamples=BOOTSTRAP_RESAMPLES, confidence_level=CONFIDENCE,
                             method="percentile", rng=np.random.default_rng(0)
                             ).confidence_interval
    low, high = float(ci.low), float(ci.high)
    return None if np.isnan(low) or np.isnan(high) else (low, high)


def rank_stats(frame: pd.DataFrame, reference: str, columns: list[str]) -> dict:
    out = {}
    for col in columns:
        rho = stats.spearmanr(frame[col], frame[reference]).statistic
        out[col] = {"kendall": _kendall(frame[col], frame[reference]), "spearman": float(rho),
                    "kendall_interval": tau_interval(frame, col, reference)}
    return out


def margins(frame: pd.DataFrame, ranked: dict, baselines=("params", "madds")) -> dict:
    """How far the proxy's tau exceeds each baseline's, with its interval: the proxy must beat
    them, and with a dozen architectures that is only shown when the interval stays above 0."""
    return {b: {"margin": ranked["proxy"]["kendall"] - ranked[b]["kendall"],
                "interval": tau_interval(frame, "proxy", "long", minus=b)} for b in baselines}


def seed_taus(frame: pd.DataFrame, seeds: list[int]) -> list[float]:
    """Kendall tau of each seed's proxy alone against the reference: the spread of what one
    search (one proxy run per candidate) can expect, of which the recorded `proxy` is one draw."""
    return [_kendall(frame[f"proxy_seed{s}"], frame["long"]) for s in seeds]


def held_out_taus(frame: pd.DataFrame, seeds: list[int], kind: str) -> list[float]:
    """Kendall tau of each seed's `kind` run alone ("proxy" or "long") against the mean of the
    other seeds' longer runs. With kind "long" this is what the reference training itself, run
    once at `factor` times the proxy's cost, scores against an independent reference: the
    yardstick for one short run (not a bound: a proxy less noisy than the reference training
    could beat it). Both kinds face the same references, and no run is compared with a
    reference that holds its own seed (a proxy shares its seed's initialisation with that
    seed's longer run)."""
    taus = []
    for s in seeds:
        others = frame[[f"long_seed{t}" for t in seeds if t != s]].mean(axis=1)
        taus.append(_kendall(frame[f"{kind}_seed{s}"], others))
    return taus


def replicate_tau(frame: pd.DataFrame, columns: list[str]) -> float:
    """Mean Kendall tau between the rankings of every pair of seeds: how much of a ranking is
    the architecture and how much the seed."""
    taus = [_kendall(frame[a], frame[b])
            for a, b in itertools.combinations(columns, 2)]
    return float(sum(taus) / len(taus))


def _runs(specs, proxy: ProxyConfig, factor: int, repeats: int):
    """Every training of a measurement: (arch index, kind, seed, config)."""
    for i in range(len(specs)):
        for s in range(proxy.seed, proxy.seed + repeats):
            short_cfg = replace(proxy, seed=s)
            yield i, "proxy", s, short_cfg
            yield i, "long", s, short_cfg.longer(factor)


def _row(spec, band: Band, seeds: list[int], score: str, results: dict) -> dict:
    """One architecture's line of the report from its trainings' outcomes, keyed by (kind,
    seed): the proxy by its `score`, the longer runs by held-out top-1, and the proxy's first
    seed by the other scores too."""
    cost = analyze(spec, band.resolution)
    row = {"arch": spec.name, "madds": cost.madds(band.convention), "params": cost.params}
    for s in seeds:
        row[f"proxy_seed{s}"] = results["proxy", s][score]
        row[f"long_seed{s}"] = results["long", s]["top1"]
    row["proxy"] = row[f"proxy_seed{seeds[0]}"]
    for other in SCORES:
        if other != score:
            row[f"proxy_{other}"] = results["proxy", seeds[0]][other]
    row["long"] = sum(row[f"long_seed{s}"] for s in seeds) / len(seeds)
    if len(seeds) > 1:
        row["proxy_mean"] = sum(row[f"proxy_seed{s}"] for s in seeds) / len(seeds)
    for kind in ("proxy", "long"):
        row[f"{kind}_s"] = round(sum(results[kind, s]["seconds"] for s in seeds), 1)
    return row


def measure(space, band: Band, data: Dataset, proxy: ProxyConfig, count: int,
            factor: int, seed: int, repeats: int = 1, jobs: int = 1, log=print,
            trainings: Path | None = None, relog: bool = False) -> tuple[pd.DataFrame, dict]:
    """Train every sampled architecture with the proxy and a `factor`x longer run, each with
    `repeats` seeds, `jobs` trainings at a time. The reference ranking is the mean of the longer
    runs over seeds; "proxy" is the first seed's proxy alone, which is what a search scores.
    With `trainings` (a TrainingLog file), finished trainings are appended there as they come
    and those already in it are not trained again (with `relog`, proxy runs logged without
    their per-step losses are, since the decision estimate reads rungs from them)."""
    data.check_batch(proxy.batch_size)
    specs = sample_band(space, band, count, seed)
    seeds = [proxy.seed + k for k in range(repeats)]
    runs = list(_runs(specs, proxy, factor, repeats))
    config = {(i, kind, s): cfg for i, kind, s, cfg in runs}
    done = TrainingLog(trainings, data, threads_per_job(jobs)) if trainings else None
    cached = {key: done.get(specs[key[0]], cfg) for key, cfg in config.items()} if done else {}
    cached = {key: outcome for key, outcome in cached.items() if outcome is not None
              and not (relog and key[1] == "proxy" and "losses" not in outcome)}
    if cached:
        log(f"reusing {len(cached)} of {len(runs)} trainings from {trainings}")
    elif done:  # say where the log is: with --report elsewhere it moves beside the report
        log(f"nothing in {trainings} matches these settings: training all {len(runs)}, each "
            "appended there as it finishes")
    todo = [run for run in runs if run[:3] not in cached]
    results: list[dict] = [{} for _ in specs]  # per architecture: (kind, seed) -> outcome
    rows: list = [None] * count
    tasks = [((i, kind, s), specs[i], cfg) for i, kind, s, cfg in todo]
    try:
        for (i, kind, s), outcome in itertools.chain(cached.items(),
                                                     train_many(tasks, data, jobs)):
            results[i][kind, s] = outcome
            if done and (i, kind, s) not in cached:
                done.add(specs[i], config[i, kind, s], outcome)
            if len(results[i]) < 2 * repeats:
                continue
            rows[i] = row = _row(specs[i], band, seeds, proxy.score, results[i])
            log(f"[{count - rows.count(None)}/{count}] {row['arch']}: MAdds "
                f"{row['madds'] / 1e6:.1f}M, proxy {row['proxy']:.3f}, {factor}x "
                f"{row['long']:.3f}" + (f" (mean of {repeats} seeds)" if repeats > 1 else "")
                + f" ({row['proxy_s']:.0f}s + {row['long_s']:.0f}s)")
    finally:
        if done:
            done.close()
    here = machine()["cpu"]
    cpus = collections.Counter(
        (done.cpu(specs[i], cfg) if done else here) or "not recorded"
        for (i, _, _), cfg in config.items())
    frame = pd.DataFrame(rows)
    rankers = (["proxy"] + (["proxy_mean"] if repeats > 1 else [])
               + [f"proxy_{other}" for other in SCORES if other != proxy.score]
               + ["params", "madds"])
    record = {
        "date": datetime.date.today().isoformat(), "architectures": count, "factor": factor,
        "repeats": repeats,
        "family": space.family, "band": band.label(),
        "proxy": f"{proxy.steps} steps, batch {proxy.batch_size}, {proxy.resolution}px, "
                 f"lr {proxy.lr:g}, scored by {proxy.describe_score()}",
        "config": asdict(proxy), "data": data.name,
        # Short training amplifies float rounding, which depends on the thread count.
        "threads": threads_per_job(jobs),
        "jobs": jobs, "reused": len(cached), "cpus": dict(cpus.most_common()),
        "stats": rank_stats(frame, "long", rankers), "confidence": CONFIDENCE,
    }
    record["margins"] = margins(frame, record["stats"])
    if repeats > 1:
        record.update(_seed_statistics(frame, results, seeds, proxy.steps,
                                       record["stats"]))
    return frame, record


def _seed_statistics(frame: pd.DataFrame, results: list[dict], seeds: list[int], steps: int,
                     stats: dict) -> dict:
    """What several seeds measure: how they agree, each alone, each against the others'
    reference, the reference's ceiling (`stats` gains each tau corrected for it) and the
    decision quality of replayed searches."""
    record: dict = {}
    record["replicates"] = {
        kind: replicate_tau(frame, [f"{kind}_seed{s}" for s in seeds])
        for kind in ("proxy", "long")}
    record["seed_taus"] = seed_taus(frame, seeds)
    record["held_out"] = {kind: held_out_taus(frame, seeds, kind)
                          for kind in ("proxy", "long")}
    ceiling = reliability(frame, [f"long_seed{s}" for s in seeds])
    record["robust_reference"] = robust_reference(frame, [f"long_seed{s}" for s in seeds])
    record.update(archs=len(frame), reliability=ceiling["reliability"],
                  ceiling=ceiling["ceiling_tau"],
                  seed_agreement_r=ceiling["seed_agreement_r"])
    for stat in stats.values():
        stat["kendall_corrected"] = corrected_tau(stat["kendall"], record)
        stat["of_ceiling"] = stat["kendall"] / record["ceiling"] if record["ceiling"] else None
    record.update(decision_record(results, seeds, steps, frame["long"].to_numpy(),
                                  record["ceiling"]))
    return record


def decision_record(results: list[dict], seeds: list[int], steps: int, reference,
                    ceiling: float) -> dict:
    """`decision` (search procedures replayed over the proxy runs, fidelity/decision.py) and
    `rung_taus`, or `decision_missing`: how many proxy runs lack their per-step losses."""
    runs = [r["proxy", s].get("losses") or [] for r in results for s in seeds]
    missing = sum(len(losses) != steps for losses in runs)
    if missing:
        return {"decision_missing": missing}
    losses = np.array(runs, dtype=float).reshape(len(results), len(seeds), steps)
    default = default_procedure(steps, len(seeds))
    compute = expected_steps(default, losses)
    other = "hyperband" if default.pruner == "sha" else "sha"
    procedures = [default, at_compute(flat(1, steps), compute, losses, "flat"),
                  at_compute(replace(default, pruner=other), compute, losses, other),
                  flat(12, steps, "flat-12")]
    return {"decision": decision_quality(procedures, losses, reference,
                                         intervals=len(results) >= MIN_FOR_INTERVAL),
            "procedures": procedure_table(losses, reference, steps),
            "rung_taus": rung_taus(losses, reference, default.rungs, ceiling)}
