"""Proxy fidelity: does the short proxy rank architectures like a longer training does?"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import torch
from scipy import stats

from ..families import analyze
from ..data import Dataset
from ..proxy.train import ProxyConfig, train_proxy
from .space import SearchSpace, random_specs
from .study import Band


def sample_band(space: SearchSpace, band: Band, count: int, seed: int, max_tries: int = 20000):
    """`count` distinct random specs whose MAdds lie in the band."""
    specs = []
    for spec in random_specs(space, seed, max_tries):
        if band.contains(analyze(spec, band.resolution).madds(band.convention)):
            specs.append(spec.replace(name=f"arch-{len(specs) + 1}"))
            if len(specs) == count:
                return specs
    raise RuntimeError(f"found only {len(specs)} architectures in the band after {max_tries} "
                       "samples")


def rank_stats(frame: pd.DataFrame, reference: str, columns: list[str]) -> dict:
    out = {}
    for col in columns:
        tau = stats.kendalltau(frame[col], frame[reference]).statistic
        rho = stats.spearmanr(frame[col], frame[reference]).statistic
        out[col] = {"kendall": float(tau), "spearman": float(rho)}
    return out


def replicate_tau(frame: pd.DataFrame, columns: list[str]) -> float:
    """Mean Kendall tau between the rankings of every pair of seeds: how much of a ranking is
    the architecture and how much the seed."""
    taus = [stats.kendalltau(frame[a], frame[b]).statistic
            for a, b in itertools.combinations(columns, 2)]
    return float(sum(taus) / len(taus))


def measure(space: SearchSpace, band: Band, data: Dataset, proxy: ProxyConfig, count: int,
            factor: int, seed: int, repeats: int = 1, log=print) -> tuple[pd.DataFrame, dict]:
    """Train every sampled architecture with the proxy and a `factor`x longer run, each with
    `repeats` seeds. The reference ranking is the mean of the longer runs over seeds; "proxy" is
    the first seed's proxy alone, which is what a search scores."""
    specs = sample_band(space, band, count, seed)
    seeds = [proxy.seed + k for k in range(repeats)]
    rows = []
    for i, spec in enumerate(specs, 1):
        cost = analyze(spec, band.resolution)
        row = {"arch": spec.name, "madds": cost.madds(band.convention), "params": cost.params}
        seconds = {"proxy": 0.0, "long": 0.0}
        for s in seeds:
            short_cfg = replace(proxy, seed=s)
            for kind, cfg in (("proxy", short_cfg), ("long", short_cfg.longer(factor))):
                result = train_proxy(spec, data, cfg)
                row[f"{kind}_seed{s}"] = result.accuracy
                seconds[kind] += result.seconds
        row["proxy"] = row[f"proxy_seed{seeds[0]}"]
        row["long"] = sum(row[f"long_seed{s}"] for s in seeds) / repeats
        if repeats > 1:
            row["proxy_mean"] = sum(row[f"proxy_seed{s}"] for s in seeds) / repeats
        row.update({"proxy_s": round(seconds["proxy"], 1), "long_s": round(seconds["long"], 1)})
        rows.append(row)
        log(f"[{i}/{count}] {spec.name}: MAdds {row['madds'] / 1e6:.1f}M, proxy "
            f"{row['proxy']:.3f}, {factor}x {row['long']:.3f}"
            + (f" (mean of {repeats} seeds)" if repeats > 1 else "")
            + f" ({seconds['proxy']:.0f}s + {seconds['long']:.0f}s)")
    frame = pd.DataFrame(rows)
    rankers = ["proxy"] + (["proxy_mean"] if repeats > 1 else []) + ["params", "madds"]
    record = {
        "date": datetime.date.today().isoformat(), "architectures": count, "factor": factor,
        "repeats": repeats,
        "band": f"{band.low / 1e6:.0f}-{band.budget / 1e6:.0f}M {band.convention}",
        "proxy": f"{proxy.steps} steps, batch {proxy.batch_size}, {proxy.resolution}px, "
                 f"lr {proxy.lr:g}", "config": asdict(proxy), "data": data.name,
        # Short training amplifies float rounding, which depends on the thread count.
        "threads": torch.get_num_threads(),
        "stats": rank_stats(frame, "long", rankers),
    }
    if repeats > 1:
        record["replicates"] = {
            kind: replicate_tau(frame, [f"{kind}_seed{s}" for s in seeds])
            for kind in ("proxy", "long")}
    return frame, record


def write_report(frame: pd.DataFrame, record: dict, path: Path, command: str) -> None:
    s = record["stats"]
    table = pd.DataFrame([{"ranker": k, "Kendall tau": round(v["kendall"], 3),
                           "Spearman rho": round(v["spearman"], 3)} for k, v in s.items()])
    repeats = record.get("repeats", 1)
    first = record["config"]["seed"]
    if repeats > 1:
        seeds = f"with seeds {first}-{first + repeats - 1}. The reference is the longer runs' " \
                f"mean over seeds; `proxy` is seed {first}'s proxy alone (what a search " \
                "scores), `proxy_mean` the proxy's mean over seeds."
    else:
        seeds = f"with seed {first}."
    lines = [
        "# Proxy fidelity", "",
        f"Command: `{command}` ({record['date']}, data {record['data']}, "
        f"{record['threads']} CPU threads)", "",
        f"{record['architectures']} architectures sampled at random from the {record['band']} "
        f"band of the space, each trained with the proxy ({record['proxy']}) "
        f"and with a {record['factor']}x longer run, {seeds} Every score is held-out top-1 "
        f"after re-estimating BatchNorm statistics on {record['config']['bn_calibration']} "
        "training images. The table compares each ranking with the reference ranking; params "
        "and MAdds are the baselines a proxy must beat.", "",
        table.to_markdown(index=False), ""]
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
    lines += ["## Per architecture", "", frame.to_markdown(index=False), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
