"""Closed-form params and MAdds of an iFormer, per part and per pillar, at any resolution.

Costs are of the deployed network, the way iFormer's authors count (`flops.py`: every BatchNorm
folded into the conv or linear next to it, then fvcore): each conv and the classifier carry a
bias, and no BatchNorm elements remain. The `fvcore` convention therefore equals the authors'
GMACs exactly (it adds the 1-per-element average pool); `paper` and `core` count conv, linear and
matmul multiply-adds. Per image (batch 1).
"""

from __future__ import annotations

from ...cost.counts import Counts, ModelCost, PartCost, part_info
from ...cost.layers import conv_folded as conv
from ...spec.geometry import Resolution, check_resolution
from . import pillars as P
from .spec import IFormerSpec, IFormerStage


def conv_block(spec: IFormerSpec, width: int, positions: int) -> Counts:
    hidden = spec.conv_ratio * width
    return (conv(width, width, spec.conv_kernel, width, positions)
            + conv(width, hidden, 1, 1, positions) + conv(hidden, width, 1, 1, positions))


def shma(stage: IFormerStage, positions: int) -> Counts:
    """Single-head modulation attention: q and k at width / qk_reduce, value and gate at width
    (sigmoid on both, not counted), softmax(q^T k) applied to the values, gated, projected."""
    c, d, n = stage.width, stage.qk_width, positions
    return (conv(c, d, 1, 1, n) + conv(c, d, 1, 1, n) + conv(c, 2 * c, 1, 1, n)
            + Counts(core=n * d * n + c * n * n) + conv(c, c, 1, 1, n))


def ffn(spec: IFormerSpec, width: int, positions: int) -> Counts:
    hidden = spec.ffn_ratio * width
    return conv(width, hidden, 1, 1, positions) + conv(hidden, width, 1, 1, positions)


def attention_block(spec: IFormerSpec, stage: IFormerStage, positions: int) -> dict[str, Counts]:
    return {P.CPE: conv(stage.width, stage.width, spec.cpe_kernel, stage.width, positions),
            P.ATTENTION: shma(stage, positions), P.FFN: ffn(spec, stage.width, positions)}


def analyze(spec: IFormerSpec, resolution: Resolution = 224) -> ModelCost:
    """Per-part, per-pillar cost of `spec` on an image of `resolution` (a side or a `Size`)."""
    resolution = check_resolution(resolution)
    first, sizes = spec.feature_sizes(resolution)
    c1 = spec.widths[0]
    half, mid = c1 // 2, spec.stem_expand * (c1 // 2)
    k = spec.stem_kernel
    stem = (conv(3, half, k, 1, first.area) + conv(half, mid, k, 1, sizes[0].area)
            + conv(mid, c1, 1, 1, sizes[0].area))
    parts = [PartCost("stem", "stem", {P.STEM: stem},
                      part_info(3, c1, 4, resolution, sizes[0], (half, mid)))]
    for i, (stage, size) in enumerate(zip(spec.stages, sizes)):
        n, c = size.area, stage.width
        if i:
            prev = spec.stages[i - 1].width
            parts.append(PartCost(f"down{i + 1}", "downsample",
                                  {P.DOWNSAMPLE: conv(prev, c, 3, 1, n)},
                                  part_info(prev, c, 2, sizes[i - 1], size)))
        kinds = ["conv"] * stage.conv + ["attn"] * stage.attn + ["conv"] * stage.conv_after
        for j, kind in enumerate(kinds):
            name = f"s{i + 1}.{j + 1}"
            if kind == "conv":
                parts.append(PartCost(name, "conv", {P.CONV: conv_block(spec, c, n)},
                                      part_info(c, c, 1, size, size, (spec.conv_ratio * c,))))
            else:
                parts.append(PartCost(name, "attn", attention_block(spec, stage, n),
                                      part_info(c, c, 1, size, size,
                                            (stage.qk_width, spec.ffn_ratio * c))))
    last, c4 = sizes[-1], spec.last_width
    parts.append(PartCost("head", "head",
                          {P.HEAD: Counts(pool=c4 * last.area, params=c4 * spec.num_classes
                                          + spec.num_classes, core=c4 * spec.num_classes)},
                          part_info(c4, spec.num_classes, 1, last, 1)))
    return ModelCost(model=spec.name, resolution=resolution, parts=parts,
                     pillar_names=P.PILLARS, family=spec.family)

