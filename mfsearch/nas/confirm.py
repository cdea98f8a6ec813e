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

__all__ = ["CONFIRMATIONS", "Candidate", "Confirmation", "Guessing", "confirm", "control_spec",
           "mean_interval"]

CONFIRMATIONS = "confirmation.jsonl"
CONFIDENCE = 0.95


def mean_interval(values: list[float]) -> tuple[float, float] | None:
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
    top1: list[float] = field(default_factory=list)  # held-out top-1 per seed
    final_loss: list[float | None] = field(default_factory=list)  # training loss at the end
    difference: list[float] = field(default_factory=list)  # minus the control's, per seed
    versus: dict[str, list[float]] = field(default_factory=dict)  # minus each baseline's

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores)

    @property
    def interval(self) -> tuple[float, float] | None:
        return mean_interval(self.scores)

    @property
    def difference_interval(self) -> tuple[float, float] | None:
        return mean_interval(self.difference)

    def to_json(self) -> dict:
        out = {"trial": self.trial, "name": self.name, "spec": self.spec.to_dict(),
               "madds": self.madds, "params": self.params, "scores": self.scores,
               "mean": self.mean, "interval": self.interval, "top1": self.top1,
               "final_loss": self.final_loss}
        if self.difference:
            out.update(difference=sum(self.difference) / len(self.difference),
                       difference_interval=self.difference_interval)
        if self.versus:
            out["versus"] = {name: {"difference": sum(d) / len(d), "interval": mean_interval(d)}
                             for name, d in self.versus.items()}
        return out


@dataclass(frozen=True)
class Guessing:
    """What guessing scores on the data (top-1 1/C, loss ln C), and the test for "learned",
    read at the end of training: held-out top-1 above chance beyond the sampling noise of the
    held-out images (one-sided binomial test over all seeds' predictions), and a final
    training loss below guessing's (a run that rose above it diverged, whatever it scored on
    average). A design that did not learn is not compared: its score says more about the
    training settings than about the design."""

    classes: int
    held_out: int  # held-out images each training is scored on
    level: float = 0.01
    # The final loss must end below margin x ln C: 1 to give a verdict at all; a health check
    # of default settings asks for "clearly below" (mfsearch.defaults.LEARNED_MARGIN).
    margin: float = 1.0

    @property
    def top1(self) -> float:
        return 1 / self.classes

    @property
    def loss(self) -> float:
        return math.log(self.classes)

    @property
    def loss_bar(self) -> str:
        """The final-loss bar in words, e.g. "0.9 x ln 10 = 2.072"."""
        scale = "" if self.margin == 1 else f"{self.margin:g} x "
        return f"{scale}ln {self.classes} = {self.margin * self.loss:.3f}"

    def criterion(self) -> str:
        return (f"held-out top-1 above chance ({self.top1:.3f}) by a one-sided binomial test at "
                f"level {self.level:g} over all seeds' predictions, and a mean final training "
                f"loss below {self.loss_bar}")

    def learned(self, c: Candidate) -> bool:
        return not self.shortfall(c)

    def shortfall(self, c: Candidate) -> str:
        """Why `c` did not learn, in words ("" when it did, or when nothing was recorded)."""
        reasons = []
        if c.top1:
            trials = len(c.top1) * self.held_out
            correct = round(sum(c.top1) * self.held_out)
            test = stats.binomtest(correct, trials, self.top1, alternative="greater")
            if test.pvalue >= self.level:
                reasons.append(f"held-out top-1 {sum(c.top1) / len(c.top1):.3f} is not above "
                               f"chance ({self.top1:.3f}) beyond sampling noise")
        losses = [x for x in c.final_loss if x is not None]
        if losses and not sum(losses) / len(losses) < self.margin * self.loss:
            bar = "guessing's " if self.margin == 1 else ""
            reasons.append(f"its training loss ended at {sum(losses) / len(losses):.3f}, "
                           f"not below {bar}{self.loss_bar}")
        return "; ".join(reasons)


@dataclass
class Confirmation:
    seeds: list[int]
    finalists: list[Candidate]
    control: Candidate | None  # None when the family ships no variant and none was named
    # Designs of the baseline families (MobileNetV3) nearest a MAdds budget, same seeds.
    baselines: list[Candidate] = field(default_factory=list)
    guessing: Guessing | None = None  # None: learning is not checked

    def candidates(self) -> list[Candidate]:
        return [*self.finalists, *([self.control] if self.control else []), *self.baselines]

    def learned(self, c: Candidate) -> bool:
        return self.guessing is None or self.guessing.learned(c)

    def not_comparable(self, c: Candidate) -> str:
        return (f"not comparable: {c.name} did not learn under these settings "
                f"({self.guessing.shortfall(c)})")

    def role(self, c: Candidate) -> str:
        """"pick", "control", "baseline" or "" (another finalist), and whether it did not
        learn, as tables show it."""
        role = ("pick" if c is self.pick else "control" if c is self.control else
                "baseline" if c in self.baselines else "")
        return ", ".join(filter(None, [role, "" if self.learned(c) else "did not learn"]))

    def warnings(self) -> list[str]:
        """Designs that did not learn: the settings do not train them, so any comparison with
        them says more about the settings than about the design."""
        return [f"{c.name} did not learn under these settings: {self.guessing.shortfall(c)}. "
                "It is left out of every comparison." for c in self.candidates()
                if not self.learned(c)]

    @property
    def pick(self) -> Candidate:
        return max(self.finalists, key=lambda c: c.mean)

    def beats_control(self, c: Candidate) -> bool:
        """Better than the control beyond seed noise: both learned, and the paired difference's
        interval lies above zero."""
        band = c.difference_interval
        return bool(band is not None and band[0] > 0 and self.learned(c)
                    and self.learned(self.control))

    def verdict(self) -> str:
        if self.control is None:
            return ("No control: the family ships no variant to compare with (name one with "
                    "--control); the pick is the best mean over the seeds.")
        for c in (self.control, self.pick):
            if not self.learned(c):
                return f"Against the control {self.control.name}: {self.not_comparable(c)}."
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
            lost = next((c for c in (b, pick) if not self.learned(c)), None)
            if lost is not None:
                lines.append(f"Against {b.name} ({b.madds / 1e6:.1f}M MAdds): "
                             f"{self.not_comparable(lost)}.")
                continue
            band = mean_interval(pick.versus[b.name])
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
                                   t.user_attrs["params"], [proxy_score(t)],
                                   [t.user_attrs["proxy_top1"]],
                                   [t.user_attrs.get("final_loss")]))
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
        c.top1.append(outcome["top1"])
        c.final_loss.append(outcome["losses"][-1] if outcome.get("losses") else None)
    for c in finalists:
        if control is not None:
            c.difference = [a - b for a, b in zip(c.scores, control.scores)]
        c.versus = {b.name: [x - y for x, y in zip(c.scores, b.scores)] for b in baselines}
    return Confirmation(seeds=seeds, finalists=finalists, control=control, baselines=baselines,
                        guessing=Guessing(data.num_classes, data.sizes()[1]))


def fmt_interval(interval) -> str:
    """A 95% interval as report tables print it."""
    return "n/a" if interval is None else f"[{interval[0]:+.4f}, {interval[1]:+.4f}]"


def markdown(result: Confirmation, settings: SearchSettings) -> list[str]:
    band = settings.band
    inside = result.control is None or band.contains(band.measure(result.control.spec))
    rows = ["| candidate | MAdds (M) | params (M) | scores (seeds "
            f"{', '.join(map(str, result.seeds))}) | mean | 95% interval | minus control | "
            "its 95% interval |", "|---|---|---|---|---|---|---|---|"]
    for c in result.candidates():
        diff = (f"{sum(c.difference) / len(c.difference):+.4f} | "
                f"{fmt_interval(c.difference_interval)}"
                if c.difference else "- | -")
        mark = f" ({result.role(c)})" if result.role(c) else ""
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
