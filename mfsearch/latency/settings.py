"""How a latency figure is measured: the settings every figure and lookup table states."""

from __future__ import annotations

from dataclasses import dataclass

from ..devices import resolve_device
from ..errors import UserError
from ..spec.geometry import Resolution

MEMORY_FORMATS = ("auto", "channels_last", "contiguous")


@dataclass(frozen=True)
class LatencySettings:
    resolution: Resolution = 224  # a side, or a Size for rectangular inputs
    batch: int = 1
    threads: int = 1
    device: str = "cpu"
    memory_format: str = "auto"  # auto: time both for a moment, keep the faster
    min_time: float = 1.0  # seconds of timed runs (blocked_autorange)
    warmup: int = 10
    engine: str = "torch"  # the runtime that runs the model (mfsearch.deploy's engines)

    def check(self) -> LatencySettings:
        if self.device == "cuda":
            resolve_device(self.device)
        if self.device not in ("cpu", "cuda"):
            raise UserError(f"--device: expected cpu or cuda, got {self.device!r}")
        if self.memory_format not in MEMORY_FORMATS:
            raise UserError(f"--memory-format: expected one of {', '.join(MEMORY_FORMATS)}")
        if _exports(self.engine):
            if self.device != "cpu":
                raise UserError(f"--engine {self.engine} runs on the CPU here: drop --device "
                                f"{self.device}")
            if self.memory_format != "contiguous":
                raise UserError(f"--memory-format {self.memory_format} is torch's: "
                                f"{self.engine} takes plain (contiguous) input and lays out "
                                "tensors itself")
        return self


def memory_format_for(engine: str, chosen: str | None, default: str) -> str:
    """The memory format a figure is measured in: torch's is chosen (else `default`); an
    exporting engine takes plain input."""
    return chosen or ("contiguous" if _exports(engine) else default)


def _exports(engine: str) -> bool:
    from ..deploy import get_engine

    return get_engine(engine).exports
