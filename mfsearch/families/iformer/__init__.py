"""iFormer (Zheng, ICLR 2025): a ConvNeXt-derived conv network whose late stages swap conv
blocks for single-head modulation attention. Spec, cost (of the BN-folded network, as its
authors count), torch model, search space and the six official variants."""

from __future__ import annotations

from ..base import Family, Presentation
from . import pillars as P
from .cost import analyze
from .space import IFormerSpace
from .spec import IFormerSpec

__all__ = ["FAMILY", "IFormerSpace", "IFormerSpec"]


def _summary(display: Presentation, cost, convention: str) -> list[str]:
    return ["costs of the BN-folded network, as its authors count (fvcore convention = their "
            "GMACs)"]


FAMILY = Family(
    name="iformer", package=__name__, spec_type=IFormerSpec,
    space_type=IFormerSpace, cost=analyze, model=f"{__name__}.model:build_model",
    pillars=P.PILLARS, folded=True, latency_ignored=frozenset({"stages", "layer_scale"}),
    head_only=frozenset({"num_classes"}),
    display=Presentation(title="iFormer", colour="#1f77b4", short_prefix="iF-",
                         summary_lines=_summary),
    head_parts=frozenset({"head"}),
    weights=f"{__name__}.weights:from_timm")
