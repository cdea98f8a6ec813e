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
from ..families import analyze
from ..proxy.device import train
from ..proxy.train import TrainingDiverged
from ..spec import spec_to_yaml
from .rungs import RungReporter
from .study import HEARTBEAT_SECONDS, SearchSettings, evaluated, own_heartbeats, requeue

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


def _run_trial(study: optuna.Study, settings: SearchSettings, data: Dataset,
               on_step: Callable[[int, float], None] | None,
               on_phase: Callable[[str], None] | None,
               on_ask: Callable[[int], None] | None) -> str:
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
        spec = settings.space.sample(trial)
        if spec is None:
            trial.set_user_attr("reject_reason", "widths shrink across stages")
            study.tell(trial, state=TrialState.PRUNED)
            return "infeasible"
        band = settings.band
        cost = analyze(spec, band.resolution)
        madds = cost.madds(band.convention)
        trial.set_user_attr("madds", madds)
        trial.set_user_attr("params", cost.params)
        trial.set_user_attr("pillars", {k: v.madds(band.convention)
                                        for k, v in cost.pillars.items()})
        trial.set_user_attr("spec", spec_to_yaml(spec))
        # Latency is predicted only where it is needed: blocks new to the table are measured.
        latency = settings.latency_ms(spec) if band.metric == "latency" else None
        value = latency if band.metric == "latency" else madds
        if band.contains(value) and latency is None:
            latency = settings.latency_ms(spec)
        if latency is not None:
            trial.set_user_attr("latency_ms", latency)
        if not band.contains(value):
            trial.set_user_attr("reject_reason", f"{band.metric} {band.fmt(value)} outside "
                                                 f"[{band.fmt(band.low)}, {band.fmt(band.budget)}]")
            study.tell(trial, state=TrialState.PRUNED)
            return "infeasible"
        key = architecture_key(spec)
        trial.set_user_attr("architecture", key)
        twin = next((t for t in evaluated(study) if t.user_attrs.get("architecture") == key),
                    None)
        if twin is not None and twin.state == TrialState.PRUNED:
            # Proposed again after its rung stopped it: the same seed would stop it again.
            trial.set_user_attr("duplicate_of", twin.number)
            trial.set_user_attr("steps_trained", twin.user_attrs["steps_trained"])
            study.tell(trial, state=TrialState.PRUNED)
            return "duplicate"
        if twin is not None:
            # The sampler proposed an architecture already trained: tell it the same score
            # (same seed, same score) instead of training it again, and do not count it.
            trial.set_user_attr("duplicate_of", twin.number)
            for key in ("proxy_score", "proxy_top1"):
                trial.set_user_attr(key, twin.user_attrs.get(key))
            study.tell(trial, twin.values)
            return "duplicate"
        trial.set_user_attr("feasible", True)
        # A retry of an interrupted trial finds its finished training here and only scores it.
        checkpoint = (settings.checkpoint_dir / f"{key}-seed{settings.proxy.seed}.pt"
                      if settings.checkpoint_dir is not None else None)
        result = train(spec, data, settings.proxy, settings.cuda, progress=step,
                       phase=on_phase, checkpoint=checkpoint, read_at=settings.rungs)
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
    score = result.scored(settings.proxy.score)
    trial.set_user_attr("proxy_score", score)
    trial.set_user_attr("proxy_top1", result.accuracy)
    trial.set_user_attr("train_loss", result.train_loss)
    trial.set_user_attr("train_seconds", round(result.seconds, 2))
    trial.set_user_attr("final_loss", result.final_loss)
    trial.set_user_attr("steps_trained", result.steps)
    values = {"acc": score, "madds": madds, "params": cost.params, "latency": latency}
    study.tell(trial, [values[o] for o in settings.objectives])
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the folder goes once no trial waits in it
            checkpoint.parent.rmdir()
    return "trained"
