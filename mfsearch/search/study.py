"""A search's study: its settings and budget band, the Optuna study that records every
candidate and survives interruption (its identity, its heartbeats on shared storages), and the
queries on it. One candidate's life is `trial.py`; the loop is `run.py`."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import sqlalchemy
from optuna.trial import TrialState

from ..data import Dataset
from ..errors import UserError
from ..families import analyze
from ..latency.table import LatencyTable
from ..proxy.config import ProxyConfig
from ..proxy.options import DeviceOptions
from .rungs import (DEFAULT_CONFIRM_SEEDS, DEFAULT_ETA, DEFAULT_FINALISTS, make_pruner,
                    rung_steps)

# Each confirmation process holds the data and a model (about 0.5 GB at the defaults), so a
# many-core machine splits its threads between a few processes rather than one per thread.
MAX_DEFAULT_JOBS = 4
# Worker processes per GPU when --per-device is not given. Processes on one GPU take turns on it
# (their kernels do not overlap): with graphed steps 4, 8 and 16 processes trained the same 71-73
# proxies a minute, and 8 ran the default search in 73.5 s (reports/gpu.md).
TRAININGS_PER_GPU = 8

OBJECTIVES = {"acc": "maximize", "madds": "minimize", "params": "minimize",
              "latency": "minimize"}


@dataclass(frozen=True)
class Band:
    """Feasible candidates: [(1 - tolerance) x budget, budget] of MAdds (an int) or, when a
    latency table is given, of predicted latency in milliseconds."""

    budget: int | float
    tolerance: float
    convention: str
    resolution: int
    latency: LatencyTable | None = field(default=None, compare=False)

    @property
    def metric(self) -> str:
        return "latency" if self.latency is not None else "madds"

    @property
    def low(self) -> int | float:
        low = (1 - self.tolerance) * self.budget
        return low if self.latency is not None else math.ceil(low)

    def contains(self, value: int | float) -> bool:
        return self.low <= value <= self.budget

    def fmt(self, value: int | float) -> str:
        return f"{value:.2f} ms" if self.latency is not None else f"{value / 1e6:.1f}M"

    def label(self) -> str:
        """Short name of the band, as fidelity records store it: "135-150M paper"."""
        if self.latency is not None:
            return f"{self.low:.2f}-{self.budget:.2f} ms predicted latency"
        at = "" if self.resolution == 224 else f" at {self.resolution}x{self.resolution}"
        return f"{self.low / 1e6:.0f}-{self.budget / 1e6:.0f}M {self.convention}{at}"

    def describe(self) -> str:
        if self.latency is not None:
            s = self.latency.settings
            return (f"{self.budget:g} ms predicted latency (lookup table {self.latency.path}: "
                    f"{self.latency.machine.get('engine', s.engine)}, batch {s.batch}, {s.resolution}x{s.resolution}, {s.threads} thread(s), "
                    f"{s.device}, {s.memory_format})")
        return (f"{self.budget:,} MAdds ({self.convention} convention, "
                f"{self.resolution}x{self.resolution})")

    def measure(self, spec) -> int | float:
        if self.latency is not None:
            return self.latency.predict(spec).total_ms
        return analyze(spec, self.resolution).madds(self.convention)


@dataclass
class SearchSettings:
    space: object  # a family's search space (`Family.space_type`)
    band: Band
    trials: int
    proxy: ProxyConfig
    objectives: tuple[str, ...] = ("acc",)
    sampler: str = "tpe"
    seed: int = 0
    latency: LatencyTable | None = None  # predicts latency for a latency band or objective
    fidelity_record: str | Path | None = None  # the measurement reports quote (None: shipped)
    checkpoint_dir: Path | None = None  # trained weights wait here until their trial is told
    pruner: str = "sha"  # rungs.PRUNERS; multi-objective searches train every candidate fully
    eta: int = DEFAULT_ETA  # the pruner keeps the top 1/eta of a rung
    first_rung: int | None = None  # steps of the first rung (default: steps / eta)
    finalists: int = DEFAULT_FINALISTS  # candidates the confirmation retrains (0: none)
    confirm_seeds: int = DEFAULT_CONFIRM_SEEDS  # further seeds of each finalist and the control
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
        from ..proxy.train import pick_device

        if not self.devices and pick_device(self.proxy.device).type != "cuda":
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
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise UserError(f"--sampler {name!r}: expected tpe, nsga2 or random")


# Shared storages: a worker records a heartbeat while it trains; a RUNNING trial whose heartbeat
# is older than the grace period belongs to a dead worker and is failed and queued again.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 120
OPEN_ATTEMPTS = 4


@contextlib.contextmanager
def own_heartbeats():
    """We run ask/tell and record heartbeats ourselves (Optuna only does it inside
    Study.optimize, and warns about both the experimental API and this use of it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        yield


def requeue(study: optuna.Study, trial, reason: str) -> None:
    """Queue the trial's parameters again, remembering which trial this retries and why."""
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number,
                                                  "retry_reason": reason})


def _requeue_stale(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    requeue(study, trial, "worker stopped (no heartbeat)")


def study_identity(settings: SearchSettings, data: Dataset) -> dict:
    """Everything that changes what a study's scores mean, flat, in the order a mismatch is
    reported: the band, the space, the data, the proxy, the objectives, sampler and seed, and
    the latency table for latency budgets."""
    band, proxy = settings.band, settings.proxy
    space = settings.space
    fields = (dataclasses.asdict(space) if dataclasses.is_dataclass(space) else vars(space))
    space_text = json.dumps({k: v for k, v in fields.items() if k != "name"}, sort_keys=True,
                            default=str)
    identity = {"band.metric": band.metric, "band.budget": band.budget,
                "band.tolerance": band.tolerance, "band.convention": band.convention,
                "band.resolution": band.resolution, "family": space.family,
                "space": hashlib.sha256(space_text.encode()).hexdigest()[:16]}
    identity.update({f"data.{k}": v for k, v in data.identity().items()})
    identity["data.classes"] = list(data.classes) or data.num_classes
    identity["data.split"] = list(data.sizes())
    identity.update({f"proxy.{k}": v for k, v in dataclasses.asdict(proxy).items()
                     if k not in ("device", "seed")})
    identity["proxy.precision"] = settings.cuda.precision
    identity.update({"objectives": ",".join(settings.objectives), "sampler": settings.sampler,
                     "seed": settings.seed, "procedure": settings.procedure()})
    table = band.latency or settings.latency
    if table is not None:
        identity.update({f"latency.{k}": v for k, v in dataclasses.asdict(table.settings).items()
                         if k != "min_time"})
        identity["latency.cpu"] = table.machine.get("cpu")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in identity.items()}


def check_identity(study: optuna.Study, identity: dict, where: str) -> None:
    """A new study records `identity`; a resumed one must match it, setting by setting."""
    recorded = study.user_attrs.get("identity")
    if recorded is None:
        study.set_user_attr("identity", identity)
        return
    for key in dict.fromkeys([*recorded, *identity]):
        legacy = LEGACY[key](recorded) if key in LEGACY else "(not recorded)"
        old, new = recorded.get(key, legacy), identity.get(key, "(not set)")
        if old != new:
            raise UserError(f"{where} holds another search: {key} was {old} there, {new} now; "
                            "resume with the same settings, or start a new --out")


# What studies recorded before a setting was part of their identity did (so they resume).
LEGACY = {"procedure": lambda recorded: f"flat: every candidate trains "
                                        f"{recorded.get('proxy.steps')} steps",
          "proxy.precision": lambda recorded: "fp32"}


# Seconds a worker waits for another's write to a shared SQLite file before it gives up.
SQLITE_BUSY_SECONDS = 120


def _engine_options(storage: str) -> dict | None:
    """Workers on one SQLite file queue for its write lock rather than fail after SQLite's
    default 5 s."""
    if storage.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}}
    return None


def open_study(storage: str, name: str, settings: SearchSettings,
               shared: bool = False, identity: dict | None = None,
               where: str | None = None) -> optuna.Study:
    """`shared`: other workers may use the storage at the same time (heartbeats on).
    `identity` (study_identity): recorded by a new study, checked against a resumed one."""
    directions = [OBJECTIVES[o] for o in settings.objectives]
    # Workers sharing a study must not propose the same candidates: their samplers are unseeded.
    sampler = make_sampler(settings.sampler, None if shared else settings.seed)
    for attempt in range(OPEN_ATTEMPTS):
        try:
            with own_heartbeats():
                backend = optuna.storages.RDBStorage(
                    storage, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                    heartbeat_stale_trial_callback=_requeue_stale,
                    engine_kwargs=_engine_options(storage)) if shared else storage
                study = optuna.create_study(storage=backend, study_name=name,
                                            directions=directions, sampler=sampler,
                                            pruner=settings.pruner_object(),
                                            load_if_exists=True)
            break
        except Exception as exc:  # storage URLs fail in many driver-specific ways
            # Workers starting together race to create the schema; the loser tries again.
            if attempt == OPEN_ATTEMPTS - 1 or not isinstance(exc, sqlalchemy.exc.DBAPIError):
                raise UserError(f"cannot open study {name!r} in {storage}: "
                                f"{str(exc).splitlines()[0]}") from None
            time.sleep(1 + attempt)
    if [d.name.lower() for d in study.directions] != directions:
        raise UserError(f"study {name!r} exists with other objectives; use another --out or "
                        "--study-name")
    _check_score(study, name, settings.proxy.score)
    if identity is not None:
        check_identity(study, identity, where or f"study {name!r}")
    return study


def _check_score(study: optuna.Study, name: str, score: str) -> None:
    """Scores of different kinds cannot be ranked together: a study keeps the kind it began
    with (studies from before scores had kinds were scored by top-1)."""
    scored = study.user_attrs.get("proxy_score")
    if scored is None:
        scored = "top1" if study.get_trials(deepcopy=False) else score
        study.set_user_attr("proxy_score", scored)
    if scored != score:
        raise UserError(f"study {name!r} ranks candidates by --proxy-score {scored}, not "
                        f"{score}; use --proxy-score {scored}, or another --out or --study-name")


def requeue_interrupted(study: optuna.Study) -> int:
    """Trials left RUNNING by a killed process: mark them failed and queue their parameters
    again, so a rerun retries them. Only safe when this process owns the storage."""
    count = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(t.number, state=TrialState.FAIL)
        requeue(study, t, "interrupted")
        count += 1
    return count


def fail_dead_workers(study: optuna.Study) -> None:
    """Shared storage: fail (and queue again) trials of workers whose heartbeat stopped."""
    with own_heartbeats():
        optuna.storages.fail_stale_trials(study)


def trained(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.user_attrs.get("feasible")]


def evaluated(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Candidates trained to the top fidelity or stopped at a rung, in trial order."""
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                                 TrialState.PRUNED))
            if t.user_attrs.get("feasible")]


def proxy_score(trial: optuna.trial.FrozenTrial) -> float:
    """The score that ranks a trained candidate: the study's first objective."""
    return trial.values[0]


def best_trained(trials: list[optuna.trial.FrozenTrial]) -> optuna.trial.FrozenTrial:
    return max(trials, key=proxy_score)


def check_reachable(space, band: Band) -> tuple[int | float, int | float]:
    """The cheapest and dearest candidates of the space (MAdds, or predicted latency: both grow
    with every choice); an error when the band lies outside them."""
    lo = band.measure(space.extreme(smallest=True))
    hi = band.measure(space.extreme(smallest=False))
    if band.budget < lo or band.low > hi:
        unit = (f"{band.convention} MAdds at {band.resolution}x{band.resolution}"
                if band.metric == "madds" else "predicted latency")
        raise UserError(f"budget {band.fmt(band.budget)} (band {band.fmt(band.low)}-"
                        f"{band.fmt(band.budget)}) is outside what the space {space.name} can "
                        f"reach: {band.fmt(lo)} to {band.fmt(hi)} {unit}")
    return lo, hi


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'study.db').resolve()}"
