"""The confirmation stage after a search: the top finalists and a control (the shipped design
nearest the budget) each train with further seeds at the top fidelity, so the pick is the best
confirmed mean, and the report says whether it beats the control beyond seed noise.

A finalist's first seed is its search training; the control trains every seed, so differences
are paired over the same seeds. Every confirmation training is appended to `confirmation.jsonl`
in the output folder as it finishes: a run resumed after Ctrl-C or SIGKILL trains only what is
missing."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from scipy import stats

from ..data import Dataset
from ..families import all_families, analyze, load_model_spec, spec_from_yaml, variant_names
from ..proxy.pool import threads_per_job, train_many
from .settings import SearchSettings
from .trials import proxy_score, trained
from ..fidelity.training_log import TrainingLog

__all__ = ["CONFIRMATIONS", "Candidate", "Confirmation", "confirm", "control_spec"]

CONFIRMATIONS = "confirmation.jsonl"
CONFIDENCE = 0.95


def _interval(values: list[float]) -> tuple[float, float] | None:
    """The mean's two-sided 95% t interval (None below two values)."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(values) - 1) * sd / math.sqrt(len(values))
    return float(mean - half), float(mean + half)


@dataclass
class Candidate:
    name: str
    spec: object
    trial: int | None  # None for the control
    madds: int
    params: int
    scores: list[float] = field(default_factory=list)  # one per seed, in seed order
    difference: list[float] = field(default_factory=list)  # minus the control's, per seed
    versus: dict[str, list[float]] = field(default_factory=dict)  # minus each baseline's

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores)

    @property
    def interval(self) -> tuple[float, float] | None:
        return _interval(self.scores)

    @property
    def difference_interval(self) -> tuple[float, float] | None:
        return _interval(self.difference)

    def to_json(self) -> dict:
        out = {"trial": self.trial, "name": self.name, "spec": self.spec.to_dict(),
               "madds": self.madds, "params": self.params, "scores": self.scores,
               "mean": self.mean, "interval": self.interval}
        if self.difference:
            out.update(difference=sum(self.difference) / len(self.difference),
                       difference_interval=self.difference_interval)
        if self.versus:
            out["versus"] = {name: {"difference": sum(d) / len(d), "interval": _interval(d)}
                             for name, d in self.versus.items()}
        return out


@dataclass
class Confirmation:
    seeds: list[int]
    finalists: list[Candidate]
    control: Candidate | None  # None when the family ships no variant and none was named
    # Designs of the baseline families (MobileNetV3) nearest a MAdds budget, same seeds.
    baselines: list[Candidate] = field(default_factory=list)
    chance: float | None = None  # the score of guessing (minus ln C, or 1 / C for top-1)

    def warnings(self) -> list[str]:
        """Designs that scored no better than guessing: the proxy's settings do not train them,
        so a comparison with them says more about the settings than about the design."""
        if self.chance is None:
            return []
        rows = [*self.finalists, *([self.control] if self.control else []), *self.baselines]
        return [f"{c.name} scored {c.mean:.3f}, no better than guessing ({self.chance:.3f}): "
                "the proxy's settings do not train it, so comparisons with it say more about "
                "the settings than about the design." for c in rows if c.mean <= self.chance]

    @property
    def pick(self) -> Candidate:
        return max(self.finalists, key=lambda c: c.mean)

    def beats_control(self, c: Candidate) -> bool:
        """Better than the control beyond seed noise: the paired difference's interval lies
        above zero."""
        band = c.difference_interval
        return bool(band is not None and band[0] > 0)

    def verdict(self) -> str:
        if self.control is None:
            return ("No control: the family ships no variant to compare with (name one with "
                    "--control); the pick is the best mean over the seeds.")
        winners = [c for c in self.finalists if self.beats_control(c)]
        if winners:
            return (f"{', '.join(c.name for c in winners)} beat{'s' if len(winners) == 1 else ''}"
                    f" the control {self.control.name} beyond seed noise (the paired "
                    "difference's 95% interval lies above zero).")
        return (f"The search found no design better than {self.control.name} beyond seed noise: "
                "every finalist's paired difference from it has a 95% interval that reaches "
                "zero or below.")

    def baseline_verdicts(self) -> list[str]:
        """Whether the pick beats each baseline beyond seed noise, one sentence each."""
        pick, lines = self.pick, []
        for b in self.baselines:
            band = _interval(pick.versus[b.name])
            beats = band is not None and band[0] > 0
            lines.append(f"Against {b.name} ({b.madds / 1e6:.1f}M MAdds), {pick.name} "
                         f"{'beats it' if beats else 'does not beat it'} beyond seed noise on "
                         f"this data (paired difference {fmt_interval(band)}).")
        return lines


def _nearest(family: str, band):
    """The family's shipped variant nearest the budget on the band's measure (None if it ships
    none)."""
    names = variant_names(family)
    if not names:
        return None
    return min((load_model_spec(n) for n in names),
               key=lambda s: abs(math.log(band.measure(s) / band.budget)))


def control_spec(settings: SearchSettings):
    """The control: `settings.control` (any family's model), or the shipped variant of the
    space's family nearest the budget (in MAdds, or in predicted latency for a latency budget);
    None when the family ships none."""
    if settings.control:
        return load_model_spec(settings.control)
    return _nearest(settings.space.family, settings.band)


def baseline_specs(settings: SearchSettings) -> list:
    """For a MAdds budget, the shipped variant nearest it of each baseline family other than
    the searched one (MobileNetV3: the design the field compares with)."""
    if settings.band.metric != "madds":
        return []
    specs = [_nearest(f.name, settings.band) for f in all_families().values()
             if f.baseline and f.name != settings.space.family]
    return [s for s in specs if s is not None]


def _cost(spec, settings: SearchSettings) -> tuple[int, int]:
    cost = analyze(spec, settings.band.resolution)
    return cost.madds(settings.band.convention), cost.params


def _devices(settings: SearchSettings, jobs: int) -> list[str] | None:
    """Each confirmation process's device, when the search's workers train on devices."""
    workers = settings.workers()
    return [workers[k % len(workers)] for k in range(jobs)] if workers else None


def confirm(study: optuna.Study, settings: SearchSettings, data: Dataset, out: Path,
            log=lambda message: None) -> Confirmation | None:
    """Retrain the finalists and the control with the further seeds (None when the stage is
    off or nothing was trained), `settings.confirmation_jobs()` trainings at once."""
    done = sorted(trained(study), key=lambda t: -proxy_score(t))[:settings.finalists]
    if not done:
        return None
    proxy = settings.proxy
    seeds = [proxy.seed + k for k in range(settings.confirm_seeds + 1)]
    finalists = []
    for t in done:
        spec = spec_from_yaml(t.user_attrs["spec"], f"trial {t.number}")
        finalists.append(Candidate(f"trial {t.number}", spec, t.number, t.user_attrs["madds"],
                                   t.user_attrs["params"], [proxy_score(t)]))
    control = control_spec(settings)
    if control is not None:
        control = Candidate(control.name, control, None, *_cost(control, settings))
    baselines = [Candidate(s.name, s, None, *_cost(s, settings))
                 for s in baseline_specs(settings)]
    jobs = settings.confirmation_jobs()
    runs = TrainingLog(out / CONFIRMATIONS, data, threads_per_job(jobs))
    todo = [(c, s) for c in finalists for s in seeds[1:]]
    todo += [(c, s) for c in [*([control] if control else []), *baselines] for s in seeds]
    configs = [dataclasses.replace(proxy, seed=seed) for _, seed in todo]
    outcomes = [runs.get(c.spec, cfg) for (c, _), cfg in zip(todo, configs)]
    missing = [n for n, outcome in enumerate(outcomes) if outcome is None]
    if missing:
        log(f"confirmation: {len(missing)} of {len(todo)} trainings to run"
            + (f", {jobs} at a time" if jobs > 1 else ""))
    try:
        tasks = [(n, todo[n][0].spec, configs[n]) for n in missing]
        trainings = train_many(tasks, data, jobs, _devices(settings, jobs), settings.cuda)
        for done, (n, result) in enumerate(trainings, 1):
            (c, seed), cfg = todo[n], configs[n]
            outcomes[n] = {"score": result[proxy.score], "top1": result["top1"],
                           "seconds": round(result["seconds"], 2), "losses": result["losses"]}
            runs.add(c.spec, cfg, outcomes[n])
            log(f"confirmation {done}/{len(missing)}: {c.name}, seed {seed} done")
    finally:
        runs.close()
    for (c, _), outcome in zip(todo, outcomes):
        c.scores.append(outcome["score"])
    for c in finalists:
        if control is not None:
            c.difference = [a - b for a, b in zip(c.scores, control.scores)]
        c.versus = {b.name: [x - y for x, y in zip(c.scores, b.scores)] for b in baselines}
    chance = (-math.log(data.num_classes) if proxy.score == "loss" else 1 / data.num_classes)
    return Confirmation(seeds=seeds, finalists=finalists, control=control, baselines=baselines,
                        chance=chance)


def fmt_interval(interval) -> str:
    """A 95% interval as report tables print it."""
    return "n/a" if interval is None else f"[{interval[0]:+.4f}, {interval[1]:+.4f}]"


def markdown(result: Confirmation, settings: SearchSettings) -> list[str]:
    band = settings.band
    inside = result.control is None or band.contains(band.measure(result.control.spec))
    rows = ["| candidate | MAdds (M) | params (M) | scores (seeds "
            f"{', '.join(map(str, result.seeds))}) | mean | 95% interval | minus control | "
            "its 95% interval |", "|---|---|---|---|---|---|---|---|"]
    for c in [*result.finalists, *([result.control] if result.control else []),
              *result.baselines]:
        diff = (f"{sum(c.difference) / len(c.difference):+.4f} | "
                f"{fmt_interval(c.difference_interval)}"
                if c.difference else "- | -")
        mark = (" (pick)" if c is result.pick else " (control)" if c is result.control
                else " (baseline)" if c in result.baselines else "")
        rows.append(f"| {c.name}{mark} | {c.madds / 1e6:.1f} | {c.params / 1e6:.2f} | "
                    f"{', '.join(f'{s:.4f}' for s in c.scores)} | {c.mean:.4f} | "
                    f"{fmt_interval(c.interval)} | {diff} |")
    where = "" if inside else (f" The control's cost lies outside the band "
                               f"[{band.fmt(band.low)}, {band.fmt(band.budget)}].")
    control = f"the control {result.control.name}" if result.control else "no control"
    return ["## Confirmation", "",
            f"The top {len(result.finalists)} candidates and {control} trained with seeds {', '.join(map(str, result.seeds))} at "
            f"the top fidelity ({settings.proxy.steps} steps); a finalist's first seed is its "
            "search training. The pick is the best mean; `best.yaml` is the pick." + where, "",
            *rows, "", result.verdict(), "", *result.baseline_verdicts(),
            *([""] if result.baselines else []),
            *(f"Warning: {w}" for w in result.warnings()), *([""] if result.warnings() else [])]
