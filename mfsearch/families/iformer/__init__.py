"""iFormer (Zheng, ICLR 2025): a ConvNeXt-derived conv network whose late stages swap conv
blocks for single-head modulation attention. Spec, cost (of the BN-folded network, as its
authors count), torch model, search space and the six official variants."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import Family
from . import pillars as P
from .cost import analyze
from .space import IFormerSpace
from .spec import IFormerSpec

__all__ = ["FAMILY", "IFormerFamily", "IFormerSpace", "IFormerSpec"]


@dataclass(frozen=True)
class IFormerFamily(Family):
    @property
    def spec_type(self) -> type:
        return IFormerSpec

    @property
    def space_type(self) -> type:
        return IFormerSpace

    def analyze(self, spec, resolution: int):
        return analyze(spec, resolution)

    def build_model(self, spec, resolution: int):
        from .model import build_model

        return build_model(spec, resolution)

    def summary(self, cost, convention: str) -> list[str]:
        return ["costs of the BN-folded network, as its authors count (fvcore convention = "
                "their GMACs)"]


FAMILY = IFormerFamily(
    name="iformer", title="iFormer", package=__name__, pillars=P.PILLARS,
    folded=True,
    latency_ignored=frozenset({"stages"}), head_only=frozenset({"num_classes"}),
    colour="#1f77b4", short_prefix="iF-")
