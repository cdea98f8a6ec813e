"""Proxy trainings of named designs, several seeds each, kept in a training log: the jobs that
judge designs by the proxy (`ablate --train`, `variants --train`) train only what is missing."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Callable

TRAININGS = "trainings.jsonl"  # every proxy training of a job's designs, kept: a rerun resumes


class SeededTrainings:
    """`seeds` proxy trainings of each spec (seeds proxy.seed onwards), logged under `path` and
    reused: a design that several tables repeat trains once per seed."""

    def __init__(self, data, proxy, seeds: int, path: Path, log: Callable[[str], None]):
        from ..fidelity.training_log import TrainingLog
        from ..proxy.pool import threads_per_job

        self.data, self.proxy, self.seeds, self.say = data, proxy, seeds, log
        self.log = TrainingLog(path, data, threads_per_job(1))

    def outcomes(self, spec) -> list[dict]:
        """{"score", "top1", "final_loss", "losses"} per seed (None each for a training that
        diverged); the per-step losses let a later analysis try another score without
        training again."""
        from ..proxy.train import TrainingDiverged, train_proxy

        found = []
        for k in range(self.seeds):
            cfg = replace(self.proxy, seed=self.proxy.seed + k)
            outcome = self.log.get(spec, cfg)
            if outcome is None:
                self.say(f"training {spec.name}, seed {cfg.seed} ...")
                losses: list[float] = []
                try:
                    result = train_proxy(spec, self.data, cfg,
                                         progress=lambda step, loss: losses.append(loss))
                    outcome = {"score": result.scored(cfg.score), "top1": result.accuracy,
                               "final_loss": losses[-1],
                               "losses": [round(x, 5) for x in losses]}
                except TrainingDiverged as exc:
                    self.say(f"  {spec.name}, seed {cfg.seed}: {exc}")
                    outcome = {"score": None, "top1": None, "final_loss": None}
                self.log.add(spec, cfg, outcome)
            found.append(outcome)
        return found

    def record(self, spec, into) -> None:
        """Append `spec`'s outcomes to `into`'s scores, top-1 and final losses (a
        `mfsearch.nas.confirm.Candidate` or an ablation variant); a diverged training learned
        nothing (score nan, top-1 0, final loss inf)."""
        for o in self.outcomes(spec):
            into.scores.append(math.nan if o["score"] is None else o["score"])
            into.top1.append(0.0 if o["top1"] is None else o["top1"])
            into.final_loss.append(math.inf if o["final_loss"] is None else o["final_loss"])

    def close(self) -> None:
        self.log.close()
