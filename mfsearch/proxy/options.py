"""How CUDA trainings run (no torch here: the CLI parses these before any work). Not part of
ProxyConfig, whose fields key the logged trainings: these change how a training runs on a GPU,
not what it computes on a CPU."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError

PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class DeviceOptions:
    """How a CUDA training runs; none of it applies on a CPU.

    graphs: capture the step in a CUDA graph (falls back to eager steps, with one line saying
    why, when capture fails). precision: fp32, or bf16 autocast. deterministic: torch's
    deterministic algorithms and a fixed cuBLAS workspace, so a run repeats bit for bit."""

    graphs: bool = True
    precision: str = "fp32"
    deterministic: bool = False

    def check(self) -> DeviceOptions:
        if self.precision not in PRECISIONS:
            raise UserError(f"--precision {self.precision!r}: expected one of "
                            f"{', '.join(PRECISIONS)}")
        return self

    def describe(self) -> str:
        parts = ["CUDA graphs" if self.graphs else "eager steps", self.precision]
        if self.deterministic:
            parts.append("deterministic")
        return ", ".join(parts)
