"""One candidate of a search, start to end: sample it, reject it outside the band, tell a
repeated architecture its earlier outcome, train it (stopping at a rung when the pruner says so)
and record its score, keeping a shared study's heartbeat while it trains."""

from __future__ import annotations

import contextlib
import hashlib
import time
from typing import Callable

import optuna
from optuna.trial import TrialState

from ..compat import heartbeat_recorder
from ..data import Dataset
from ..families import analyze, spec_to_yaml
from ..proxy.device import train
from ..proxy.train import TrainingDiverged
from .rungs import RungReporter
from .storage import HEARTBEAT_SECONDS, own_heartbeats, requeue
from .settings import SearchSettings
from .trials import evaluated

__all__ = ["Heartbeat", "architecture_key", "run_trial"]


class Heartbeat:
    """Records the trial's heartbeat at most every HEARTBEAT_SECONDS (only on shared storages)."""

    def __init__(self, study: optuna.Study, trial: optuna.Trial) -> None:
        self.beat = heartbeat_recorder(study, trial)
        self.last = 0.0
        self()

    def __call__(self) -> None:
        now = time.monotonic()
        if self.beat is not None and now - self.last >= HEARTBEAT_SECONDS:
            self.beat()
            self.last = now


def architecture_key(spec) -> str:
    """A digest of the spec without its name: equal keys mean the same network."""
    text = spec_to_yaml(spec.replace(name="architecture"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def run_trial(study: optuna.Study, settings: SearchSettings, data: Dataset,
              on_step: Callable[[int, float], None] | None = None,
              on_phase: Callable[[str], None] | None = None,
              on_ask: Callable[[int], None] | None = None) -> str:
    """Ask one candidate and finish it: 'trained', 'pruned' (stopped at a rung), 'infeasible',
    'duplicate' (an architecture already evaluated, told its outcome again) or 'failed'.
    `on_step(step, loss)` follows the training, `on_phase(name)` the scoring after it,
    `on_ask(number)` learns the trial's number (other workers may ask trials meanwhile)."""
    with own_heartbeats():
        return _run_trial(study, settings, data, on_step, on_phase, on_ask)


class _Settled(Exception):
    """The candidate is settled before any training (its outcome told to the study)."""

    def __init__(self, outcome: str):
        super().__init__(outcome)
        self.outcome = outcome


def _record(trial: optuna.Trial, **attrs) -> None:
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def _settle(study: optuna.Study, trial: optuna.Trial, outcome: str, values=None,
            **attrs) -> None:
    """Record `attrs`, tell the study (`values`, or PRUNED) and end the candidate."""
    _record(trial, **attrs)
    if values is None:
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, values)
    raise _Settled(outcome)


def _sample(study: optuna.Study, trial: optuna.Trial, settings: SearchSettings):
    spec = settings.space.sample(trial)
    if spec is None:
        _settle(study, trial, "infeasible", reject_reason="widths shrink across stages")
    return spec


def _cost_in_band(study: optuna.Study, trial: optuna.Trial, settings: SearchSettings,
                  spec) -> dict:
    """The candidate's costs (recorded); a candidate outside the band is settled here.
    Latency is predicted only where it is needed: blocks new to the table are measured."""
    band = settings.band
    cost = analyze(spec, band.resolution)
    madds = cost.madds(band.convention)
    _record(trial, madds=madds, params=cost.params, spec=spec_to_yaml(spec),
            pillars={k: v.madds(band.convention) for k, v in cost.pillars.items()})
    latency = settings.latency_ms(spec) if band.metric == "latency" else None
    value = latency if band.metric == "latency" else madds
    if band.contains(value) and latency is None:
        latency = settings.latency_ms(spec)
    if latency is not None:
        trial.set_user_attr("latency_ms", latency)
    if not band.contains(value):
        _settle(study, trial, "infeasible",
                reject_reason=f"{band.metric} {band.fmt(value)} outside "
                              f"[{band.fmt(band.low)}, {band.fmt(band.budget)}]")
    return {"madds": madds, "params": cost.params, "latency": latency}


def _new_architecture(study: optuna.Study, trial: optuna.Trial, spec) -> str:
    """The architecture's key; one already evaluated is settled with its earlier outcome
    (same seed, same score) instead of being trained again, and does not count."""
    key = architecture_key(spec)
    trial.set_user_attr("architecture", key)
    twin = next((t for t in evaluated(study) if t.user_attrs.get("architecture") == key), None)
    if twin is not None and twin.state == TrialState.PRUNED:
        # Proposed again after its rung stopped it: the same seed would stop it again.
        _settle(study, trial, "duplicate", duplicate_of=twin.number,
                steps_trained=twin.user_attrs["steps_trained"])
    if twin is not None:
        _settle(study, trial, "duplicate", twin.values, duplicate_of=twin.number,
                proxy_score=twin.user_attrs.get("proxy_score"),
                proxy_top1=twin.user_attrs.get("proxy_top1"))
    return key


def _tell_trained(study: optuna.Study, trial: optuna.Trial, settings: SearchSettings,
                  result, costs: dict) -> None:
    score = result.scored(settings.proxy.score)
    _record(trial, proxy_score=score, proxy_top1=result.accuracy,
            train_loss=result.train_loss, train_seconds=round(result.seconds, 2),
            final_loss=result.final_loss, steps_trained=result.steps)
    values = {"acc": score, **costs}
    study.tell(trial, [values[o] for o in settings.objectives])


def _run_trial(study: optuna.Study, settings: SearchSettings, data: Dataset,
               on_step: Callable[[int, float], None] | None,
               on_phase: Callable[[str], None] | None,
               on_ask: Callable[[int], None] | None) -> str:
    """Sample, cost and place in the band, skip a repeat, train, record."""
    trial = study.ask()
    if on_ask is not None:
        on_ask(trial.number)
    heartbeat = Heartbeat(study, trial)
    rungs = RungReporter(trial, settings.rungs) if settings.pruning else None

    def step(n: int, loss: float) -> None:
        heartbeat()
        if on_step is not None:
            on_step(n, loss)
        if rungs is not None:
            rungs(n, loss)

    try:
        spec = _sample(study, trial, settings)
        costs = _cost_in_band(study, trial, settings, spec)
        key = _new_architecture(study, trial, spec)
        trial.set_user_attr("feasible", True)
        # A retry of an interrupted trial finds its finished training here and only scores it.
        checkpoint = (settings.checkpoint_dir / f"{key}-seed{settings.proxy.seed}.pt"
                      if settings.checkpoint_dir is not None else None)
        result = train(spec, data, settings.proxy, settings.cuda, progress=step,
                       phase=on_phase, checkpoint=checkpoint, read_at=settings.rungs)
    except _Settled as settled:
        return settled.outcome
    except TrainingDiverged as exc:
        trial.set_user_attr("fail_reason", str(exc))
        study.tell(trial, state=TrialState.FAIL)
        return "failed"
    except optuna.TrialPruned:
        study.tell(trial, state=TrialState.PRUNED)
        return "pruned"
    except BaseException:
        trial.set_user_attr("fail_reason", "interrupted")
        study.tell(trial, state=TrialState.FAIL)
        requeue(study, trial, "interrupted")
        raise
    _tell_trained(study, trial, settings, result, costs)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the folder goes once no trial waits in it
            checkpoint.parent.rmdir()
    return "trained"
