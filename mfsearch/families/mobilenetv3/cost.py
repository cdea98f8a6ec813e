"""Closed-form params and MAdds of a MobileNetV3, per part and per pillar, at any resolution.

Costs are of the deployed network, BatchNorm folded into the convs, which is how MobileNetV3's
MAdds are counted (TF's folded graph; timm's count agrees once its BatchNorms are fused): `paper`
and `core` count conv and linear multiply-adds (the SE convs included), `fvcore` adds the head's
1-per-element average pool. The SE's spatial mean is not counted (fvcore has no handle for it);
hard-swish, hard-sigmoid and ReLU cost nothing. Per image (batch 1).
"""

from __future__ import annotations

from ...cost.counts import Counts, ModelCost, PartCost, part_info
from ...cost.layers import conv_folded as conv
from ...spec.geometry import Resolution
from . import pillars as P
from .layout import BlockLayout, resolve
from .spec import MobileNetV3Spec


def squeeze_excite(channels: int, squeeze: int) -> Counts:
    """Reduce and expand 1x1 convs (with biases) on the pooled 1x1 map."""
    return conv(channels, squeeze, 1, 1, 1) + conv(squeeze, channels, 1, 1, 1)


def block(b: BlockLayout) -> dict[str, Counts]:
    out = b.res_out.area
    if b.kind == "ds":
        convs = conv(b.cin, b.cin, b.kernel, b.cin, out) + conv(b.cin, b.cout, 1, 1, out)
    else:
        convs = (conv(b.cin, b.hidden, 1, 1, b.res_in.area)
                 + conv(b.hidden, b.hidden, b.kernel, b.hidden, out)
                 + conv(b.hidden, b.cout, 1, 1, out))
    pillars = {P.BLOCKS: convs}
    if b.se:
        pillars[P.SE] = squeeze_excite(b.hidden, b.se)
    return pillars


def analyze(spec: MobileNetV3Spec, resolution: Resolution = 224) -> ModelCost:
    """Per-part, per-pillar cost of `spec` on an image of `resolution` (a side or a `Size`)."""
    lay = resolve(spec, resolution)
    parts = [PartCost("stem", "stem", {P.STEM: conv(3, lay.stem, 3, 1, lay.stem_res.area)},
                      part_info(3, lay.stem, 2, lay.resolution, lay.stem_res))]
    for n, b in enumerate(lay.blocks, start=1):
        hidden = (b.hidden, b.se) if b.se else (b.hidden,)
        parts.append(PartCost(f"block{n}", b.kind, block(b),
                              part_info(b.cin, b.cout, b.stride, b.res_in, b.res_out, hidden)))
    cin, last = lay.blocks[-1].cout, lay.last_res
    parts.append(PartCost("final_conv", "final_conv",
                          {P.HEAD: conv(cin, lay.last_conv, 1, 1, last.area)},
                          part_info(cin, lay.last_conv, 1, last, last)))
    head = (Counts(pool=lay.last_conv * last.area) + conv(lay.last_conv, spec.head, 1, 1, 1)
            + conv(spec.head, spec.num_classes, 1, 1, 1))
    parts.append(PartCost("head", "head", {P.HEAD: head},
                          part_info(lay.last_conv, spec.num_classes, 1, last, 1, (spec.head,))))
    return ModelCost(model=spec.name, resolution=lay.resolution, parts=parts,
                     pillar_names=P.PILLARS, family=spec.family)
