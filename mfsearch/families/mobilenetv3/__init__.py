"""MobileNetV3 (Howard et al., ICCV 2019), Large and Small, as timm builds them: inverted
residuals with optional squeeze-excite and hard-swish, width multipliers with timm's channel
rounding, and the efficient last stage. Costs are of the BN-folded network, as its paper counts;
`FAMILY` is what the rest of mfsearch asks."""

from __future__ import annotations

from ..base import Family, Presentation
from . import pillars as P
from .cost import analyze
from .space import MobileNetV3Space
from .spec import MobileNetV3Spec

__all__ = ["FAMILY", "MobileNetV3Space", "MobileNetV3Spec"]


def _summary(display: Presentation, cost, convention: str) -> list[str]:
    total = cost.madds(convention)
    se = cost.pillar(P.SE).madds(convention)
    share = f"{100 * se / total:.1f}%" if total else "-"
    return [f"costs of the BN-folded network, as its paper counts; squeeze-excite: "
            f"{se / 1e6:,.3f}M ({share})"]


FAMILY = Family(
    name="mobilenetv3", package=__name__, spec_type=MobileNetV3Spec,
    space_type=MobileNetV3Space, cost=analyze, model=f"{__name__}.model:build_model",
    pillars=P.PILLARS, folded=True, latency_ignored=frozenset({"stages"}),
    head_only=frozenset({"head", "num_classes"}),
    display=Presentation(title="MobileNetV3", colour="#2ca02c", short_prefix="MNv3-",
                         summary_lines=_summary),
    head_parts=frozenset({"final_conv", "head"}),
    weights=f"{__name__}.weights:from_timm", baseline=True, zero_classifier=True,
    published_names={f"mobilenetv3-{size}-{tag}": f"MobileNetV3-{size.title()} {mult}x"
                     for size, tag, mult in (("large", "075", "0.75"), ("large", "100", "1.0"),
                                             ("large", "125", "1.25"), ("small", "075", "0.75"),
                                             ("small", "100", "1.0"))})
