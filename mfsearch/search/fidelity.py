"""Proxy fidelity: does the short proxy rank architectures like a longer training does?"""

from __future__ import annotations

import datetime
import itertools
import multiprocessing
import signal
import threading
import warnings
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import stats

from ..families import analyze
from ..data import Dataset
from ..errors import UserError
from ..proxy.config import SCORES, ProxyConfig
from ..proxy.train import TrainingDiverged, train_proxy
from ..space import random_specs
from .ceiling import corrected_tau, reliability
from .study import Band
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


_WORKER: dict = {}


def _start_worker(data: Dataset, threads: int) -> None:
    torch.set_num_threads(threads)
    _WORKER["data"] = data


def _train_one(spec, data: Dataset, cfg: ProxyConfig) -> dict:
    """Every score of one training (keyed as in SCORES), its seconds and its per-step losses
    (from which a rung's running score can be read wherever another schedule agrees)."""
    losses: list[float] = []
    try:
        result = train_proxy(spec, data, cfg, progress=lambda step, loss: losses.append(loss))
    except TrainingDiverged as exc:
        raise UserError(f"{spec.name} (seed {cfg.seed}, {cfg.steps} steps) diverged: {exc}; "
                        "a ranking needs every training to finish (try a lower --proxy-lr)"
                        ) from None
    return {**{kind: result.scored(kind) for kind in SCORES}, "seconds": result.seconds,
            "losses": losses}


def _train_in_worker(task) -> tuple:
    key, spec, cfg = task
    return key, _train_one(spec, _WORKER["data"], cfg)


def _train_all(specs, data: Dataset, runs: list, jobs: int):
    """Yield ((arch index, kind, seed), scores and seconds) as trainings finish. With jobs > 1
    each training runs in its own process with the threads split evenly: one small training
    keeps two cores only partly busy, so separate processes finish sooner (docs/decisions.md).
    A run's result depends only on its seed and its thread count."""
    if jobs == 1:
        for i, kind, s, cfg in runs:
            yield (i, kind, s), _train_one(specs[i], data, cfg)
        return
    # spawn, not fork: a forked child of a process that has run torch threads can hang. The
    # workers start with Ctrl-C ignored (the setting is inherited), so only this process sees
    # it, stops them and reports one line instead of a traceback per worker.
    ignore = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if ignore else None
    try:
        pool = multiprocessing.get_context("spawn").Pool(
            jobs, initializer=_start_worker, initargs=(data, threads_per_job(jobs)))
    finally:
        if ignore:
            signal.signal(signal.SIGINT, previous)
    try:
        tasks = [((i, kind, s), specs[i], cfg) for i, kind, s, cfg in runs]
        yield from pool.imap_unordered(_train_in_worker, tasks)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def threads_per_job(jobs: int) -> int:
    return max(1, torch.get_num_threads() // jobs)


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
            trainings: Path | None = None) -> tuple[pd.DataFrame, dict]:
    """Train every sampled architecture with the proxy and a `factor`x longer run, each with
    `repeats` seeds, `jobs` trainings at a time. The reference ranking is the mean of the longer
    runs over seeds; "proxy" is the first seed's proxy alone, which is what a search scores.
    With `trainings` (a TrainingLog file), finished trainings are appended there as they come
    and those already in it are not trained again."""
    data.check_batch(proxy.batch_size)
    specs = sample_band(space, band, count, seed)
    seeds = [proxy.seed + k for k in range(repeats)]
    runs = list(_runs(specs, proxy, factor, repeats))
    config = {(i, kind, s): cfg for i, kind, s, cfg in runs}
    done = TrainingLog(trainings, data, threads_per_job(jobs)) if trainings else None
    cached = {key: done.get(specs[key[0]], cfg) for key, cfg in config.items()} if done else {}
    cached = {key: outcome for key, outcome in cached.items() if outcome is not None}
    if cached:
        log(f"reusing {len(cached)} of {len(runs)} trainings from {trainings}")
    elif done:  # say where the log is: with --report elsewhere it moves beside the report
        log(f"nothing in {trainings} matches these settings: training all {len(runs)}, each "
            "appended there as it finishes")
    todo = [run for run in runs if run[:3] not in cached]
    results: list[dict] = [{} for _ in specs]  # per architecture: (kind, seed) -> outcome
    rows: list = [None] * count
    try:
        for (i, kind, s), outcome in itertools.chain(cached.items(),
                                                     _train_all(specs, data, todo, jobs)):
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
        "jobs": jobs, "reused": len(cached),
        "stats": rank_stats(frame, "long", rankers), "confidence": CONFIDENCE,
    }
    record["margins"] = margins(frame, record["stats"])
    if repeats > 1:
        record["replicates"] = {
            kind: replicate_tau(frame, [f"{kind}_seed{s}" for s in seeds])
            for kind in ("proxy", "long")}
        record["seed_taus"] = seed_taus(frame, seeds)
        record["held_out"] = {kind: held_out_taus(frame, seeds, kind)
                              for kind in ("proxy", "long")}
        ceiling = reliability(frame, [f"long_seed{s}" for s in seeds])
        record.update(archs=count, reliability=ceiling["reliability"],
                      ceiling=ceiling["ceiling_tau"],
                      seed_agreement_r=ceiling["seed_agreement_r"])
        for stat in record["stats"].values():
            stat["kendall_corrected"] = corrected_tau(stat["kendall"], record)
            stat["of_ceiling"] = stat["kendall"] / record["ceiling"] if record["ceiling"] else None
    return frame, record


_OTHER_SCORES = {"proxy_top1": "its held-out top-1 (scored like the longer runs)",
                 "proxy_loss": "minus its mean training loss"}


def _other_scores(record: dict) -> str:
    """The sentence that says how the report's proxy_<score> rows rank."""
    rows = [k for k in record["stats"] if k in _OTHER_SCORES]
    return (f"`{'`, `'.join(rows)}`: the same proxy runs (seed {record['config']['seed']}) "
            f"ranked by {' and '.join(_OTHER_SCORES[k] for k in rows)}. ")


def interval_text(interval) -> str:
    return "n/a" if interval is None else f"{interval[0]:+.2f} to {interval[1]:+.2f}"


def _per_seed(taus: list[float], first: int) -> str:
    return ", ".join(f"seed {first + k} {t:+.3f}" for k, t in enumerate(taus)) + \
        f" (mean {sum(taus) / len(taus):+.3f})"


def write_report(frame: pd.DataFrame, record: dict, path: Path, command: str) -> None:
    s = record["stats"]
    table = pd.DataFrame([{"ranker": k, "Kendall tau": round(v["kendall"], 3),
                           f"{CONFIDENCE:.0%} interval": interval_text(v.get("kendall_interval")),
                           "Spearman rho": round(v["spearman"], 3)} for k, v in s.items()])
    repeats = record.get("repeats", 1)
    first = record["config"]["seed"]
    if repeats > 1:
        seeds = f"with seeds {first}-{first + repeats - 1}. The reference is the longer runs' " \
                f"mean over seeds; `proxy` is seed {first}'s proxy alone (what a search " \
                "scores), `proxy_mean` the proxy's mean over seeds."
    else:
        seeds = f"with seed {first}."
    jobs = record.get("jobs", 1)
    machine = f"{record['threads']} CPU threads" if jobs == 1 else \
        f"{jobs} trainings at a time, {record['threads']} CPU thread(s) each"
    reused = record.get("reused", 0)
    if reused:
        machine += f"; {reused} of {2 * record['architectures'] * repeats} trainings reused " \
                   "from an earlier run's training log"
    lines = [
        "# Proxy fidelity", "",
        f"Command: `{command}` ({record['date']}, data {record['data']}, {machine})", "",
        f"{record['architectures']} architectures sampled at random from the {record['band']} "
        f"band of the space, each trained with the proxy ({record['proxy']}) "
        f"and with a {record['factor']}x longer run, {seeds} The longer runs are scored by "
        "held-out top-1 after re-estimating BatchNorm statistics on "
        f"{record['config']['bn_calibration']} training images; "
        + _other_scores(record) + "The table compares each ranking with the reference "
        "ranking; params and MAdds are the baselines a proxy must beat. The interval is a "
        f"bootstrap over the architectures ({BOOTSTRAP_RESAMPLES} resamples, percentile): how "
        f"far another {record['architectures']} architectures from the same band could move "
        "the tau.", "",
        table.to_markdown(index=False), ""]
    if record["architectures"] < MIN_FOR_INTERVAL:
        lines += [f"Intervals are n/a: with {record['architectures']} architectures a resample "
                  "repeats so few distinct ones that an interval means nothing; measure at "
                  f"least {MIN_FOR_INTERVAL} (`--archs {MIN_FOR_INTERVAL}`).", ""]
    if "margins" in record:
        lines += [
            "The proxy's tau less each baseline's, on the same resamples: " + "; ".join(
                f"{name} {m['margin']:+.3f} ({interval_text(m['interval'])})"
                for name, m in record["margins"].items())
            + ". An interval wholly above 0: the proxy beats that baseline beyond the luck of "
            "which architectures were drawn.", ""]
    if "replicates" in record:
        r = record["replicates"]
        lines += [
            "## Seed agreement", "",
            "Mean Kendall tau between the rankings of two seeds of the same training: how much "
            "of a ranking is the architecture rather than the seed. A single run of the "
            f"reference agrees with another seed's at {r['long']:+.3f}, the proxy with "
            f"another seed's proxy at {r['proxy']:+.3f}.", "",
            pd.DataFrame([{"training": "proxy", "Kendall tau": round(r["proxy"], 3)},
                          {"training": f"{record['factor']}x", "Kendall tau": round(r["long"], 3)}
                          ]).to_markdown(index=False), ""]
    if "seed_taus" in record:
        lines += [
            "## Each proxy seed against the reference", "",
            f"A search scores each candidate with one proxy run; its ranking is one draw of "
            f"several. Each seed's proxy alone ranks at Kendall tau "
            f"{_per_seed(record['seed_taus'], first)} against the reference.", ""]
    if "held_out" in record:
        h = record["held_out"]
        lines += [
            "## Against the other seeds' reference", "",
            "Each seed's run ranked against the mean of the other seeds' longer runs, so that "
            "no run meets its own seed in the reference. The longer run alone, at "
            f"{record['factor']}x the proxy's cost, is the yardstick for one short run: "
            f"{record['factor']}x {_per_seed(h['long'], first)}; proxy "
            f"{_per_seed(h['proxy'], first)}.", ""]
    if "ceiling" in record:
        rows = [{"ranker": name, "Kendall tau": round(s["kendall"], 3),
                 "corrected": None if s.get("kendall_corrected") is None
                 else round(s["kendall_corrected"], 3),
                 "of the ceiling": None if s.get("of_ceiling") is None
                 else f"{100 * s['of_ceiling']:.0f}%"} for name, s in record["stats"].items()]
        lines += [
            "## Against the reference's ceiling", "",
            f"Two seeds of the {record['factor']}x training correlate at r = "
            f"{record['seed_agreement_r']:+.3f} (Pearson, mean over pairs); by Spearman-Brown "
            f"the mean of {len(record['seed_taus'])} seeds has reliability "
            f"{record['reliability']:.3f}, so no ranker can exceed Kendall tau "
            f"{record['ceiling']:+.3f} against it (the true ranking's expected tau, via "
            "tau = 2/pi arcsin r). Corrected: each tau divided, as a correlation, by the square "
            "root of that reliability (what it would score against a reference of infinitely "
            "many seeds). The one-4x-run yardstick is in the section above.", "",
            pd.DataFrame(rows).to_markdown(index=False), ""]
    lines += ["## Per architecture", "", frame.to_markdown(index=False), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
