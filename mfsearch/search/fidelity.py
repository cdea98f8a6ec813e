"""Proxy fidelity: does the short proxy rank architectures like a longer training does?"""

from __future__ import annotations

import datetime
from dataclasses import asdict
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


def measure(space: SearchSpace, band: Band, data: Dataset, proxy: ProxyConfig, count: int,
            factor: int, seed: int, log=print) -> tuple[pd.DataFrame, dict]:
    specs = sample_band(space, band, count, seed)
    long = proxy.longer(factor)
    rows = []
    for i, spec in enumerate(specs, 1):
        cost = analyze(spec, band.resolution)
        short = train_proxy(spec, data, proxy)
        ref = train_proxy(spec, data, long)
        rows.append({"arch": spec.name, "madds": cost.madds(band.convention),
                     "params": cost.params, "proxy": short.accuracy, "long": ref.accuracy,
                     "proxy_s": round(short.seconds, 1), "long_s": round(ref.seconds, 1)})
        log(f"[{i}/{count}] {spec.name}: MAdds {rows[-1]['madds'] / 1e6:.1f}M, proxy "
            f"{short.accuracy:.3f} ({short.seconds:.0f}s), {factor}x {ref.accuracy:.3f} "
            f"({ref.seconds:.0f}s)")
    frame = pd.DataFrame(rows)
    record = {
        "date": datetime.date.today().isoformat(), "architectures": count, "factor": factor,
        "band": f"{band.low / 1e6:.0f}-{band.budget / 1e6:.0f}M {band.convention}",
        "proxy": f"{proxy.steps} steps, batch {proxy.batch_size}, {proxy.resolution}px, "
                 f"lr {proxy.lr:g}", "config": asdict(proxy), "data": data.name,
        # Short training amplifies float rounding, which depends on the thread count.
        "threads": torch.get_num_threads(),
        "stats": rank_stats(frame, "long", ["proxy", "params", "madds"]),
    }
    return frame, record


def write_report(frame: pd.DataFrame, record: dict, path: Path, command: str) -> None:
    s = record["stats"]
    table = pd.DataFrame([{"ranker": k, "Kendall tau": round(v["kendall"], 3),
                           "Spearman rho": round(v["spearman"], 3)} for k, v in s.items()])
    text = "\n".join([
        "# Proxy fidelity", "",
        f"Command: `{command}` ({record['date']}, data {record['data']}, "
        f"{record['threads']} CPU threads)", "",
        f"{record['architectures']} architectures sampled at random from the {record['band']} "
        f"band of the space, each trained with the proxy ({record['proxy']}) "
        f"and with a {record['factor']}x longer run. The table compares each ranking with the "
        "longer run's ranking; params and MAdds are the baselines a proxy must beat.", "",
        table.to_markdown(index=False), "",
        "## Per architecture", "",
        frame.to_markdown(index=False), ""])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
