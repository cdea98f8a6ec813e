"""Does promotion with several candidates training at once keep the search's decision quality?
Replays the default procedure over the logged fidelity trainings (reports/proxy_fidelity.*)
with 1, 4, 8 and 16 workers: with K workers a candidate's rung is judged against what had been
reported when it got there (Optuna's asynchronous successive halving), as on a GPU with K
trainings at once.

    python benchmarks/async_decision.py [--workers 1,4,8,16]

reports/gpu.md records a run."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from mfsearch.data import builtin
from mfsearch.proxy.config import ProxyConfig
from mfsearch.fidelity.record import load_record
from mfsearch.fidelity import training_log
from mfsearch.fidelity.decision import decision_quality, default_procedure
from mfsearch.fidelity.measure import sample_band
from mfsearch.nas.band import Band
from mfsearch.space import load_space

REPORTS = Path(__file__).resolve().parent.parent / "reports"


def logged(record: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(proxy losses [archs, seeds, steps], reference top-1 [archs], seconds per proxy step
    [archs]) as the fidelity measurement read them: its trainings are keyed on the torch build
    and threads they ran with."""
    cfg = ProxyConfig(**{**record["config"], "device": "cpu"})
    band = Band(150_000_000, 0.1, "paper", 224)
    specs = sample_band(load_space(None), band, record["architectures"], 0)
    training_log.torch.__version__ = "2.13.0+cpu"  # the build the logged trainings ran on
    log = training_log.TrainingLog(REPORTS / "proxy_fidelity.trainings.jsonl", builtin(),
                                   record["threads"])
    seeds = range(cfg.seed, cfg.seed + record["repeats"])
    try:
        proxies = [[log.get(s, dataclasses.replace(cfg, seed=k)) for k in seeds] for s in specs]
        losses = [[run["losses"] for run in runs] for runs in proxies]
        pace = [np.mean([run["seconds"] for run in runs]) / cfg.steps for runs in proxies]
        reference = [np.mean([log.get(s, dataclasses.replace(cfg, seed=k).longer(
            record["factor"]))["top1"] for k in seeds]) for s in specs]
    finally:
        log.close()
    return np.array(losses, dtype=float), np.array(reference), np.array(pace)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,4,8,16",
                        type=lambda t: [int(x) for x in t.split(",")])
    parser.add_argument("--searches", type=int, default=2000)
    args = parser.parse_args()
    record = load_record(REPORTS / "proxy_fidelity.json")
    losses, reference, pace = logged(record)
    default = default_procedure(losses.shape[2], losses.shape[1])
    procedures = [dataclasses.replace(default, name=f"{k} worker(s)", workers=k)
                  for k in args.workers]
    # Time per step as each architecture trained (CPU seconds of its proxy runs): larger
    # candidates are slower, so with several workers fast ones reach a rung first.
    result = decision_quality(procedures, losses, reference, searches=args.searches,
                              pace=pace)
    print(f"{losses.shape[0]} architectures, {losses.shape[1]} seeds; "
          f"default procedure: {default.candidates} candidates, rungs {default.rungs}, "
          f"eta {default.eta}, {default.finalists} finalists x {default.confirm_seeds} seeds")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
