"""Closed-form params and MAdds of a Mobile-Former, per part and per pillar, at any resolution.

Formulas follow the official implementation layer by layer (see `models/mobile_former.py`);
nothing is traced, so a whole network costs microseconds. Per image (batch 1).
"""

from __future__ import annotations

from ...cost.counts import Counts, ModelCost, PartCost, part_info
from ...cost.layers import conv_bn, layer_norm, linear, matmul
from ...spec.geometry import Resolution
from . import pillars as P
from .layout import BlockLayout, Layout, resolve
from .spec import MobileFormerSpec


# --- parts --------------------------------------------------------------------------------------
def dyrelu(spec: MobileFormerSpec, channels: int, positions: int) -> Counts:
    """One activation after a conv: DyReLU (generator MLP on token 0 + elementwise) or ReLU6."""
    if spec.activation != "dyrelu":
        return Counts()
    d, squeeze = spec.token_dim, spec.token_dim // spec.dyrelu_reduction
    return linear(d, squeeze, 1) + linear(squeeze, 2 * channels, 1) + Counts(
        dyrelu=channels * positions)


def mobile_to_former(spec: MobileFormerSpec, channels: int, positions: int) -> Counts:
    m, d = spec.tokens, spec.token_dim
    if spec.former_attention == "mha":
        mixing = (linear(d, channels, m)  # W^Q
                  + matmul(m, channels, positions)  # Q K^T, K = raw features
                  + matmul(m, positions, channels))  # A V, V = raw features
    else:
        mixing = linear(positions, m, channels)  # static positions -> tokens
    gate = linear(d, channels, m)
    return mixing + gate + linear(channels, d, m) + layer_norm(d, m)


def former(spec: MobileFormerSpec) -> Counts:
    m, d = spec.tokens, spec.token_dim
    if spec.former_attention == "mha":
        mixing = linear(d, d, m) + matmul(m, d, m) + matmul(m, m, d)  # W^Q, QK^T, AV (K = V = z)
    else:
        r = spec.token_mlp_ratio
        mixing = linear(m, r * m, d) + linear(r * m, m, d)  # static token MLP over d columns
    out = mixing + linear(d, d, m) + layer_norm(d, m)
    if spec.former_ffn:
        hidden = spec.ffn_ratio * d
        out = out + linear(d, hidden, m) + linear(hidden, d, m) + layer_norm(d, m)
    return out


def former_to_mobile(spec: MobileFormerSpec, channels: int, positions: int) -> Counts:
    m, d = spec.tokens, spec.token_dim
    value = linear(d, channels, m)
    if spec.former_attention == "mha":
        return (value + linear(d, channels, m)  # W^V, W^K
                + matmul(positions, channels, m)  # Q K^T, Q = raw features
                + matmul(positions, m, channels))  # A V
    return value + linear(m, positions, channels)  # static tokens -> positions


def mobile(spec: MobileFormerSpec, b: BlockLayout) -> tuple[Counts, Counts]:
    """(convs of the Mobile sub-block, its two activations)."""
    g, k, lo = spec.groups, spec.dw_kernel, b.res_out.area
    if b.downsample:
        ch1, ch2 = b.hidden
        convs = (conv_bn(b.cin, ch1, k, b.cin, lo) + conv_bn(ch1, b.cout, 1, g, lo)
                 + conv_bn(b.cout, ch2, k, b.cout, lo) + conv_bn(ch2, b.cout, 1, g, lo))
        acts = dyrelu(spec, ch1, lo) + dyrelu(spec, ch2, lo)
    else:
        ch = b.hidden[0]
        li = b.res_in.area
        convs = (conv_bn(b.cin, ch, 1, g, li) + conv_bn(ch, ch, k, ch, lo)
                 + conv_bn(ch, b.cout, 1, g, lo))
        acts = dyrelu(spec, ch, li) + dyrelu(spec, ch, lo)
    return convs, acts


def block(spec: MobileFormerSpec, b: BlockLayout, former_cost: Counts) -> dict[str, Counts]:
    """Pillars of one block; `former_cost` is the same for every block, so it is passed in."""
    convs, acts = mobile(spec, b)
    pillars = {P.MOBILE: convs, P.DYRELU: acts}
    if spec.former:
        pillars[P.MOBILE_TO_FORMER] = mobile_to_former(spec, b.cin, b.res_in.area)
        pillars[P.FORMER] = former_cost
        pillars[P.FORMER_TO_MOBILE] = former_to_mobile(spec, b.cout, b.res_out.area)
    return pillars


def head(spec: MobileFormerSpec, cin: int, positions: int) -> Counts:
    token = spec.token_dim if spec.former else 0
    return (conv_bn(cin, spec.head_conv, 1, spec.groups, positions)
            + Counts(pool=spec.head_conv * positions)
            + linear(spec.head_conv + token, spec.fc1, 1) + Counts(params=2 * spec.fc1, bn=spec.fc1)
            + linear(spec.fc1, spec.num_classes, 1))


def analyze(spec: MobileFormerSpec, resolution: Resolution = 224) -> ModelCost:
    """Per-part, per-pillar cost of `spec` on an image of `resolution` (a side or a `Size`)."""
    lay: Layout = resolve(spec, resolution)
    st, bl = lay.stem, lay.bneck_lite
    parts = [PartCost("stem", "stem", {P.STEM: conv_bn(3, st.cout, 3, 1, st.res_out.area)},
                      part_info(3, st.cout, 2, st.res_in, st.res_out)),
             PartCost("bneck_lite", "bneck_lite",
                      {P.BNECK_LITE: conv_bn(bl.cin, bl.hidden, 3, bl.cin, bl.res_out.area)
                       + conv_bn(bl.hidden, bl.cout, 1, spec.groups, bl.res_out.area)},
                      part_info(bl.cin, bl.cout, bl.stride, bl.res_in, bl.res_out, (bl.hidden,)))]
    if spec.former:
        parts.insert(0, PartCost("tokens", "tokens",
                                 {P.FORMER: Counts(params=spec.tokens * spec.token_dim)},
                                 {"tokens": spec.tokens, "token_dim": spec.token_dim}))
    former_cost = former(spec) if spec.former else Counts()
    for b in lay.blocks:
        parts.append(PartCost(f"block{b.index + 1}", "downsample" if b.downsample else "stride1",
                              block(spec, b, former_cost),
                              part_info(b.cin, b.cout, b.stride, b.res_in, b.res_out, b.hidden)))
    last = lay.last_res.area
    if spec.former:
        parts.append(PartCost("final_mobile_to_former", "mobile_to_former",
                              {P.MOBILE_TO_FORMER: mobile_to_former(spec, lay.last_width, last)},
                              part_info(lay.last_width, spec.token_dim, 1, lay.last_res,
                                        lay.last_res)))
    parts.append(PartCost("head", "head", {P.HEAD: head(spec, lay.last_width, last)},
                          part_info(lay.last_width, spec.num_classes, 1, lay.last_res, 1)))
    return ModelCost(model=spec.name, resolution=lay.resolution, parts=parts,
                     pillar_names=P.PILLARS, family=spec.family)

