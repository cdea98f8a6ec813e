"""Queries on a study's trials: which candidates are trained, which were evaluated, and the
score that ranks them."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState


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
