"""A search's settings: what it searches, how it ranks and prunes, what it confirms, and where
its trainings run; and the Optuna sampler they name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import defaults
from ..devices import resolve_device
from ..errors import UserError
from ..proxy.config import ProxyConfig
from ..proxy.options import DeviceOptions
from .band import Band
from .rungs import make_pruner, rung_steps
from .timing import TimeLimit

if TYPE_CHECKING:  # Optuna and the latency table load with the search, not with its settings
    import optuna

    from ..latency.table import LatencyTable

# Each confirmation process holds the data and a model (about 0.5 GB at the defaults), so a
# many-core machine splits its threads between a few processes rather than one per thread.
MAX_DEFAULT_JOBS = 4
# Worker processes per GPU when --per-device is not given. Processes on one GPU take turns on it
# (their kernels do not overlap): with graphed steps 4, 8 and 16 processes trained the same 71-73
# proxies a minute, and 8 ran the default search in 73.5 s (reports/gpu.md).
TRAININGS_PER_GPU = 8

OBJECTIVES = {"acc": "maximize", "madds": "minimize", "params": "minimize",
              "latency": "minimize"}


@dataclass
class SearchSettings:
    space: object  # a family's search space (`Family.space_type`)
    band: Band
    trials: int
    proxy: ProxyConfig
    objectives: tuple[str, ...] = ("acc",)
    sampler: str = defaults.SAMPLER
    seed: int = defaults.SEED
    # Predicts latency for a latency band or objective (compared by its file and settings).
    latency: LatencyTable | None = field(default=None, compare=False)
    fidelity_record: str | Path | None = None  # the measurement reports quote (None: shipped)
    checkpoint_dir: Path | None = None  # trained weights wait here until their trial is told
    pruner: str = defaults.PRUNER  # rungs.PRUNERS; multi-objective searches train all fully
    eta: int = defaults.ETA  # the pruner keeps the top 1/eta of a rung
    first_rung: int | None = None  # steps of the first rung (default: steps / eta)
    finalists: int = defaults.FINALISTS  # candidates the confirmation retrains (0: none)
    confirm_seeds: int = defaults.CONFIRM_SEEDS  # further seeds of each finalist and the control
    control: str | None = None  # the control's variant (default: the family's nearest)
    # Confirmation trainings at once, each in its own process (None: one per CPU thread, at
    # most MAX_DEFAULT_JOBS, on a CPU; one per worker with workers); the confirmation's runs
    # are fixed in advance, so this keeps results.
    jobs: int | None = None
    # Devices that train candidates at once, one worker process per entry and `per_device` on
    # each, all on the study's storage (empty: this process trains one candidate at a time on
    # proxy.device, or TRAININGS_PER_GPU workers when that is CUDA).
    devices: tuple[str, ...] = ()
    per_device: int | None = None
    cuda: DeviceOptions = DeviceOptions()
    # The run fits this (timing.py): None trains the procedure above whatever it takes.
    time_limit: TimeLimit | None = None

    @property
    def pruning(self) -> bool:
        """Whether candidates are pruned at rungs (Optuna's pruners refuse multi-objective
        studies, so those keep the flat procedure)."""
        return self.pruner != "none" and len(self.objectives) == 1

    @property
    def rungs(self) -> tuple[int, ...]:
        steps = self.proxy.steps
        if not self.pruning:
            return (steps,)
        return rung_steps(steps, self.eta, self.first_rung or max(1, steps // self.eta))

    def pruner_object(self) -> optuna.pruners.BasePruner:
        rungs = self.rungs
        return make_pruner(self.pruner if self.pruning else "none", rungs[0],
                           self.proxy.steps, self.eta)

    def procedure(self) -> str:
        """The procedure in words, as reports and the study's identity state it."""
        if not self.pruning:
            return f"flat: every candidate trains {self.proxy.steps} steps"
        kind = "successive halving" if self.pruner == "sha" else "Hyperband"
        return (f"{kind}, eta {self.eta}, rungs at {', '.join(map(str, self.rungs))} steps")

    def workers(self) -> list[str]:
        """The device of each worker that trains candidates at once (empty: this process
        trains them one at a time)."""
        if not self.devices and resolve_device(self.proxy.device).type != "cuda":
            return []
        if self.band.latency is not None or self.latency is not None:
            # Latency is timed on this machine's CPU as new blocks come: trainings in other
            # processes would load the CPU it is timed on.
            if self.devices:
                raise UserError("--devices: a search under a latency budget or objective "
                                "trains one candidate at a time (parallel trainings would "
                                "load the CPU its latency is timed on)")
            return []
        devices = self.devices or ("cuda",)
        per = self.per_device or (TRAININGS_PER_GPU if any(d.startswith("cuda")
                                                          for d in devices) else 1)
        return [d for d in devices for _ in range(per)]

    def confirmation_jobs(self) -> int:
        if self.jobs is not None:
            return self.jobs
        import torch

        workers = self.workers()
        if workers:
            return len(workers)
        return min(torch.get_num_threads(), MAX_DEFAULT_JOBS)

    def latency_ms(self, spec) -> float | None:
        table = self.band.latency or self.latency
        return table.predict(spec).total_ms if table is not None else None


def parse_objectives(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in OBJECTIVES]
    if not names or bad or names[0] != "acc" or len(set(names)) != len(names):
        raise UserError(f"--objectives {text!r}: expected acc, optionally followed by madds, "
                        f"params and/or latency (e.g. acc,madds)")
    return names


def make_sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"--sampler {name!r}: expected tpe, nsga2 or random")
