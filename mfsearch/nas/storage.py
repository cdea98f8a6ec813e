"""The Optuna study that records every candidate and survives interruption: opening it on a
file or a shared database, its identity (a resumed study must be the same search, studies from
before a setting was recorded included), heartbeats of workers, and requeued trials."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import time
import warnings
from pathlib import Path

import optuna
import sqlalchemy
from optuna.trial import TrialState

from ..data import Dataset
from ..errors import UserError
from .settings import OBJECTIVES, SearchSettings, make_sampler


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
    # The data's classes and split sizes (which --max-images sets) before its digest: a
    # mismatch names what the user changed where it can.
    described = {f"data.{k}": v for k, v in data.identity().items()}
    identity["data.name"] = described.pop("data.name")
    identity["data.classes"] = list(data.classes) or data.num_classes
    identity["data.split"] = list(data.sizes())
    identity.update(described)
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


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'study.db').resolve()}"
