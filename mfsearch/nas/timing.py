"""A search that fits the time given (`--time-limit`): the first candidate's training measures
this machine, then the search plans how many candidates it evaluates, how many finalists it
confirms and with how many further seeds, so that the whole run ends within the limit.

The given procedure (the defaults, or what the user set) is the most a plan asks for: when it
fits, it runs unchanged; when it does not, the plan is the procedure within it that fits and
that replayed searches (`mfsearch fidelity`'s procedure table, fidelity/decision.py) rate best,
i.e. most often picking a design in the reference's top quartile. Its candidates are a
forecast: the search stage goes on, up to the candidates asked for, while one more candidate
trained to the top still leaves the confirmation its time, and the confirmation shrinks to the
time that is left, so a slow stretch costs candidates and a fast one buys some, within the
limit."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

from ..errors import UserError

__all__ = ["SAFETY", "Costs", "Plan", "Speed", "TimeLimit", "clock", "confirmation_runs",
           "fit_confirmation", "parse_duration", "plan"]

# The plan aims this far inside the limit: the speed is measured on one candidate, and others
# of the band train a little slower or faster.
SAFETY = 0.9
UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str | float | int | None) -> float | None:
    """Seconds of "10m", "90s", "1h30m" or "1.5h" (None for "none"/"off"/None)."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("none", "off")):
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)\s*([smh])", str(text).strip().lower())
        joined = "".join(f"{n}{u}" for n, u in parts)
        if not parts or joined != re.sub(r"\s+", "", str(text).strip().lower()):
            raise UserError(f"--time-limit {text!r}: expected a duration such as 10m, 90s or "
                            "1h30m (or none)")
        seconds = sum(float(n) * UNITS[u] for n, u in parts)
    if not seconds > 0:
        raise UserError(f"--time-limit {text!r}: expected a positive duration (or none)")
    return seconds


def clock(seconds: float) -> str:
    """12:05 (minutes:seconds), or 1:02:05 past an hour."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return (f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours
            else f"{rest // 60}:{rest % 60:02d}")


@dataclass(frozen=True)
class TimeLimit:
    seconds: float
    given: str  # as the user wrote it ("10m")
    table: dict | None = None  # replayed procedures (fidelity record's "procedures")


@dataclass(frozen=True)
class Speed:
    """This machine's speed, from the first candidate trained to the top."""

    trial_seconds: float  # one candidate, asked to scored
    step_seconds: float  # one training step
    steps: int  # the proxy's steps (a candidate trained to the top)

    @property
    def fixed_seconds(self) -> float:
        """A candidate's time outside its training steps (building, calibrating, scoring)."""
        return max(0.0, self.trial_seconds - self.steps * self.step_seconds)


def confirmation_runs(finalists: int, confirm_seeds: int, designs: int) -> int:
    """Trainings of the confirmation: finalists' further seeds, and every seed of the control
    and the baselines (`designs` of them)."""
    return finalists * confirm_seeds + (designs * (1 + confirm_seeds) if finalists else 0)


@dataclass(frozen=True)
class Plan:
    candidates: int
    finalists: int
    confirm_seeds: int
    expected_seconds: float  # the whole run, from its start, as planned
    limit_seconds: float
    given: tuple[int, int, int]  # the procedure asked for: candidates, finalists, seeds
    given_seconds: float  # what the procedure asked for would take
    speed: Speed
    top_quartile_rate: float | None = None  # replayed, for the plan and the given procedure
    given_rate: float | None = None

    @property
    def shrunk(self) -> bool:
        return (self.candidates, self.finalists, self.confirm_seeds) != self.given

    def to_json(self) -> dict:
        out = asdict(self)
        out["given"] = dict(zip(("candidates", "finalists", "confirm_seeds"), self.given))
        return out

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        given = data["given"]
        return cls(**{**data, "speed": Speed(**data["speed"]),
                      "given": (given["candidates"], given["finalists"],
                                given["confirm_seeds"])})

    def describe(self) -> str:
        """What the time bought, in one sentence."""
        what = procedure_words(self.candidates, self.finalists, self.confirm_seeds)
        speed = (f"at {self.speed.trial_seconds:.1f} s a candidate here, "
                 f"{self.speed.step_seconds * 1000:.0f} ms a step")
        if not self.shrunk:
            return (f"the procedure asked for ({what}) fits: about {clock(self.expected_seconds)}"
                    f" of {clock(self.limit_seconds)}, {speed}")
        rate = ("" if self.top_quartile_rate is None or self.given_rate is None else
                f"; replayed searches pick a top-quartile design {self.top_quartile_rate:.0%} "
                f"of the time with it, {self.given_rate:.0%} with the procedure asked for")
        asked = (f"the procedure asked for ({procedure_words(*self.given)}) would take about "
                 f"{clock(self.given_seconds)}, {speed}")
        if self.expected_seconds > self.limit_seconds:
            return (f"the limit {clock(self.limit_seconds)} is shorter than the smallest "
                    f"search ({what}: about {clock(self.expected_seconds)}), which it runs; "
                    f"{asked}{rate}")
        return (f"planned {what} to end in about {clock(self.expected_seconds)} of "
                f"{clock(self.limit_seconds)}; {asked}{rate}")


def procedure_words(candidates: int, finalists: int, seeds: int) -> str:
    def count(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return (f"{count(candidates, 'candidate')}, {count(finalists, 'finalist')} with "
            f"{count(seeds, 'further seed')}")


class Costs:
    """Expected seconds of a procedure at a measured speed."""

    def __init__(self, speed: Speed, designs: int, jobs: int, table: dict | None = None,
                 eta: int = 0, pruning: bool = False):
        self.speed, self.designs, self.jobs = speed, designs, jobs
        self.rows = (table or {}).get("etas", {}).get(str(eta)) if pruning else None
        self.table = table

    def stage(self, candidates: int) -> float:
        """The search stage over `candidates` (a pruned one stops at its rung: the table's
        mean steps; without a table every candidate trains to the top)."""
        speed = self.speed
        top = candidates
        if self.rows is not None:
            trainings = self.rows["trainings"]
            known = min(candidates, len(trainings))
            top = trainings[known - 1] + (candidates - known) * trainings[-1] / len(trainings)
        return candidates * speed.fixed_seconds + top * speed.steps * speed.step_seconds

    def confirmation(self, finalists: int, confirm_seeds: int) -> float:
        """Its trainings run `jobs` at a time, each as long as a candidate trained to the top
        (on a CPU, one training on one thread beside another takes about as long as one on two
        threads: docs/decisions.md)."""
        runs = confirmation_runs(finalists, confirm_seeds, self.designs)
        return math.ceil(runs / self.jobs) * self.speed.trial_seconds

    def rate(self, candidates: int, finalists: int, confirm_seeds: int) -> float | None:
        """The replayed top-quartile rate (None without a table, or with no finalists)."""
        if self.rows is None or not finalists or not confirm_seeds:
            return None
        t = self.table
        rates = self.rows["top_quartile_rate"]
        return rates[min(candidates, len(rates)) - 1][min(finalists, t["finalists"]) - 1][
            min(confirm_seeds, t["confirm_seeds"]) - 1]


def plan(limit: TimeLimit, elapsed: float, done_seconds: float, speed: Speed,
         given: tuple[int, int, int], designs: int, jobs: int, eta: int,
         pruning: bool) -> Plan:
    """The procedure to run from here: `elapsed` seconds since the run began, of which the
    first candidate took `done_seconds`; `designs` the control and baselines the confirmation
    trains with every seed. The given procedure when it fits; otherwise the best-rated one
    within it that fits (fewest seconds among equals), or the smallest there is."""
    costs = Costs(speed, designs, jobs, limit.table, eta, pruning)
    before = elapsed - done_seconds  # loading the data and the like: spent once

    def seconds(n: int, f: int, k: int) -> float:
        return before + costs.stage(n) + costs.confirmation(f, k)

    n0, f0, k0 = given
    choices = [(n, f, k) for n in range(1, n0 + 1)
               for f in (range(min(1, f0), f0 + 1))
               for k in (range(min(1, k0), k0 + 1) if f else (0,))]
    fits = [c for c in choices if seconds(*c) <= SAFETY * limit.seconds]
    if given in fits:
        chosen = given
    elif fits:
        def merit(c):
            rate = costs.rate(*c)
            # Without a replayed rate: more candidates, then more seeds, then more finalists.
            return ((rate if rate is not None else -1.0), c[0], c[2], c[1], -seconds(*c))

        chosen = max(fits, key=merit)
    else:
        chosen = (1, min(1, f0), min(1, k0) if f0 else 0)
    return Plan(*chosen, expected_seconds=seconds(*chosen), limit_seconds=limit.seconds,
                given=given, given_seconds=seconds(*given), speed=speed,
                top_quartile_rate=costs.rate(*chosen), given_rate=costs.rate(*given))


def fit_confirmation(speed: Speed, finalists: int, confirm_seeds: int, remaining: float,
                     designs: int, jobs: int) -> tuple[int, int]:
    """(finalists, further seeds), at most those given, that fit the `remaining` seconds: fewer
    seeds before fewer finalists; at least one of each, so the pick is confirmed."""
    costs = Costs(speed, designs, jobs)
    f0, k0 = finalists, confirm_seeds
    if not f0:
        return 0, 0
    for f in range(f0, 0, -1):
        for k in range(k0, 0, -1):
            if costs.confirmation(f, k) <= remaining:
                return f, k
    return 1, min(1, k0)
