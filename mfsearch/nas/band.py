"""The budget band: which candidates are feasible, by MAdds or by predicted latency."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import UserError
from ..families import analyze

if TYPE_CHECKING:  # the table loads torch; a MAdds band needs none
    from ..latency.table import LatencyTable


@dataclass(frozen=True)
class Band:
    """Feasible candidates: [(1 - tolerance) x budget, budget] of MAdds (an int) or, when a
    latency table is given, of predicted latency in milliseconds."""

    budget: int | float
    tolerance: float
    convention: str
    resolution: int
    latency: LatencyTable | None = field(default=None, compare=False)
    # The budget as the user gave it ("150M", "12ms"), as reports record it.
    given: str | None = field(default=None, compare=False)

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
