"""Multi-fidelity search on Optuna's own machinery: every candidate trains under the one schedule
of the top fidelity and reports its running score at rungs (`trial.report`); the pruner stops
those below the top 1/eta of their rung. The running score is minus the mean training loss so
far, which at the last step is the score a full training ends with."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Optuna loads with the search, not with the CLI's start-up
    import optuna

__all__ = ["PRUNERS", "RungReporter", "make_pruner", "rung_steps"]

PRUNERS = ("sha", "hyperband", "none")


def rung_steps(steps: int, eta: int, first: int) -> tuple[int, ...]:
    """The steps at which a candidate is compared: first, first x eta, ... below `steps`, then
    `steps` itself (the top fidelity, where nothing is pruned)."""
    if first >= steps or eta < 2:
        return (steps,)
    rungs = []
    step = first
    while step < steps:
        rungs.append(step)
        step *= eta
    return (*rungs, steps)


def make_pruner(name: str, first: int, steps: int, eta: int) -> optuna.pruners.BasePruner:
    """Asynchronous successive halving (`sha`), Hyperband's brackets of it, or none. Both keep
    their state in the study's storage, so workers sharing a study need no barrier."""
    import optuna

    if name == "sha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=eta,
                                                      min_early_stopping_rate=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=steps,
                                              reduction_factor=eta)
    return optuna.pruners.NopPruner()


class RungReporter:
    """Called after every training step with its loss: at each rung below the top it reports
    the running score and, when the pruner says so, records how far the candidate got and
    raises optuna.TrialPruned (which stops its training)."""

    def __init__(self, trial: optuna.Trial, rungs: tuple[int, ...]):
        self.trial = trial
        self.rungs = set(rungs[:-1])
        self.loss_sum = 0.0

    def __call__(self, step: int, loss: float) -> None:
        self.loss_sum += loss
        if step not in self.rungs:
            return
        score = -self.loss_sum / step
        self.trial.report(score, step)
        if self.trial.should_prune():
            import optuna

            self.trial.set_user_attr("steps_trained", step)
            self.trial.set_user_attr("rung_score", score)
            raise optuna.TrialPruned(f"below the top of rung {step}")
