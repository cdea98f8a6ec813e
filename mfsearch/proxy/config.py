"""The proxy's settings and score kinds (no torch here: the CLI parses them before any work)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import UserError

# "loss": minus the mean training loss over the run, a training-speed estimate (Ru et al.,
# NeurIPS 2021): inside the first epoch every batch is new, so it averages the held-out loss
# along the whole run. It is the default because its rankings repeat across seeds; "top1" is
# held-out top-1 after the run (BatchNorm recalibrated). Measurements: docs/decisions.md.
SCORES = {"loss": "minus the mean training loss over the run", "top1": "held-out top-1"}


@dataclass(frozen=True)
class ProxyConfig:
    """Defaults chosen by `mfsearch fidelity` (see reports/proxy_fidelity.md)."""

    steps: int = 60
    batch_size: int = 64
    resolution: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup: int = 6
    label_smoothing: float = 0.1
    # Training images used to re-estimate BatchNorm statistics before scoring (0: keep the
    # running averages). See calibrate_batchnorm for why.
    bn_calibration: int = 1024
    # What ranks candidates (higher is better), one of SCORES.
    score: str = "loss"
    seed: int = 0
    device: str = "auto"

    def longer(self, factor: int) -> ProxyConfig:
        return replace(self, steps=self.steps * factor, warmup=self.warmup * factor)

    def check(self) -> ProxyConfig:
        for name in ("steps", "batch_size", "resolution"):
            if getattr(self, name) < 1:
                raise UserError(f"proxy {name} must be >= 1, got {getattr(self, name)}")
        if self.bn_calibration < 0:
            raise UserError(f"proxy bn_calibration must be >= 0, got {self.bn_calibration}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise UserError(f"proxy lr must be a positive number, got {self.lr}")
        if self.score not in SCORES:
            raise UserError(f"proxy score must be one of {', '.join(SCORES)}, got {self.score!r}")
        return self

    def describe_score(self) -> str:
        return SCORES[self.score]
