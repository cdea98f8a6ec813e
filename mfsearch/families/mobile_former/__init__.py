"""Mobile-Former (Chen et al., CVPR 2022): MobileNet and a tiny transformer in parallel, joined
by a two-way cross-attention bridge. Spec, geometry, cost, torch model, search space and the
paper's seven variants; `FAMILY` is what the rest of mfsearch asks."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import Family
from . import pillars as P
from .cost import analyze
from .space import MobileFormerSpace
from .spec import MobileFormerSpec

__all__ = ["FAMILY", "MobileFormerFamily", "MobileFormerSpace", "MobileFormerSpec"]


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


@dataclass(frozen=True)
class MobileFormerFamily(Family):
    @property
    def spec_type(self) -> type:
        return MobileFormerSpec

    @property
    def space_type(self) -> type:
        return MobileFormerSpace

    def analyze(self, spec, resolution: int):
        return analyze(spec, resolution)

    def build_model(self, spec, resolution: int):
        from .model import build_model

        return build_model(spec, resolution)

    def summary(self, cost, convention: str) -> list[str]:
        total = cost.madds(convention)
        narrow = self.group_madds(cost, "former+bridge", convention)
        broad = narrow + cost.pillar(P.DYRELU).madds(convention)
        return [f"Former + bridge: {narrow / 1e6:,.3f}M ({_share(narrow, total)}); with the "
                f"DyReLU generator path: {broad / 1e6:,.3f}M ({_share(broad, total)})"]


FAMILY = MobileFormerFamily(
    name="mobile-former", title="Mobile-Former", package=__name__, pillars=P.PILLARS,
    pillar_groups=P.GROUPS, share_group="former+bridge",
    group_titles={"former+bridge": "Former + both bridges"}, folded=False,
    latency_ignored=frozenset({"blocks", "dropout"}),
    head_only=frozenset({"head_conv", "fc1", "num_classes"}),
    abbreviations={P.MOBILE_TO_FORMER: "m->f", P.FORMER_TO_MOBILE: "m<-f"}, colour="#d62728",
    short_prefix="MF-")
