"""Mobile-Former (Chen et al., CVPR 2022): MobileNet and a tiny transformer in parallel, joined
by a two-way cross-attention bridge. Spec, geometry, cost, torch model, search space and the
paper's seven variants; `FAMILY` is what the rest of mfsearch asks."""

from __future__ import annotations

from ..base import Family, Presentation
from . import pillars as P
from .cost import analyze
from .space import MobileFormerSpace
from .spec import MobileFormerSpec

__all__ = ["FAMILY", "MobileFormerSpace", "MobileFormerSpec"]


def _summary(display: Presentation, cost, convention: str) -> list[str]:
    total = cost.madds(convention)
    narrow = display.group_madds(cost, "former+bridge", convention)
    broad = narrow + cost.pillar(P.DYRELU).madds(convention)
    share = (lambda part: f"{100 * part / total:.1f}%" if total else "-")  # noqa: E731
    return [f"Former + bridge: {narrow / 1e6:,.3f}M ({share(narrow)}); with the DyReLU "
            f"generator path: {broad / 1e6:,.3f}M ({share(broad)})"]


FAMILY = Family(
    name="mobile-former", package=__name__,
    spec_type=MobileFormerSpec, space_type=MobileFormerSpace, cost=analyze,
    model=f"{__name__}.model:build_model", pillars=P.PILLARS,
    display=Presentation(
        title="Mobile-Former", colour="#d62728", short_prefix="MF-", pillar_groups=P.GROUPS,
        share_group="former+bridge", group_titles={"former+bridge": "Former + both bridges"},
        abbreviations={P.MOBILE_TO_FORMER: "m->f", P.FORMER_TO_MOBILE: "m<-f"},
        summary_lines=_summary),
    folded=False,
    latency_ignored=frozenset({"blocks", "dropout"}),
    head_only=frozenset({"head_conv", "fc1", "num_classes"}),
    head_parts=frozenset({"final_mobile_to_former", "head"}),
    weights=f"{__name__}.weights:from_official", attention=f"{__name__}.attention:attention_maps",
    training=f"{__name__}.training:table11")
