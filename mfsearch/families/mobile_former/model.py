"""Torch Mobile-Former built from a spec, faithful to the official implementation
(github.com/AAboys/MobileFormer, `mobile_former.py` / `dna_blocks.py`).

Every module that costs something carries a `pillar` tag, so a counter's per-module results map
onto the same pillars as the analytic cost model. Attention is written with explicit matmuls
(counters drop fused SDPA) and batched over heads and tokens.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...models.limits import check_limits
from . import pillars as P
from .cost import analyze
from .layers import ChannelShuffle, HSigmoid, HSwish, conv_bn, make_activation
from .layout import BlockLayout, Layout, resolve
from .spec import MobileFormerSpec


class Stem(nn.Sequential):
    pillar = P.STEM

    def __init__(self, cout: int):
        super().__init__(nn.Conv2d(3, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU6(inplace=True))


class BneckLite(nn.Module):
    """Conv-only first block: dw3x3 (depth multiplier) + BN + ReLU6, linear grouped pw + BN."""

    pillar = P.BNECK_LITE

    def __init__(self, cin: int, hidden: int, cout: int, stride: int, groups: int):
        super().__init__()
        self.residual = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, hidden, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            # Index 3 holds the shuffle (an identity without groups), as in the official code,
            # so the official checkpoints' tensor names carry over.
            ChannelShuffle(cin) if groups > 1 else nn.Identity(),
            nn.Conv2d(hidden, cout, 1, 1, 0, groups=groups, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out + x if self.residual else out


class MobileStride1(nn.Module):
    """Mobile sub-block, stride 1 (official DnaBlock): pw + act, dw + act, linear pw, residual."""

    pillar = P.MOBILE

    def __init__(self, spec: MobileFormerSpec, b: BlockLayout):
        super().__init__()
        g, k, ch = spec.groups, spec.dw_kernel, b.hidden[0]
        self.residual = b.residual
        self.conv1 = conv_bn(b.cin, ch, 1, 1, g, shuffle=g)
        self.act1 = make_activation(spec, ch)
        self.conv2 = conv_bn(ch, ch, k, b.stride, ch)
        self.act2 = make_activation(spec, ch)
        self.conv3 = conv_bn(ch, b.cout, 1, 1, g, shuffle=g)

    def forward(self, x: torch.Tensor, token0: torch.Tensor | None) -> torch.Tensor:
        out = self.act1(self.conv1(x), token0)
        out = self.act2(self.conv2(out), token0)
        out = self.conv3(out)
        return out + x if self.residual else out


class MobileDownsample(nn.Module):
    """Mobile sub-block for downsampling (official DnaBlock3): dw(s2) + act, linear pw,
    dw + act, linear pw, with the inner residual from the first pw's output."""

    pillar = P.MOBILE

    def __init__(self, spec: MobileFormerSpec, b: BlockLayout):
        super().__init__()
        g, k = spec.groups, spec.dw_kernel
        ch1, ch2 = b.hidden
        self.conv1 = conv_bn(b.cin, ch1, k, b.stride, b.cin, shuffle=b.cin if g > 1 else 1)
        self.act1 = make_activation(spec, ch1)
        self.conv2 = conv_bn(ch1, b.cout, 1, 1, g)
        self.conv3 = conv_bn(b.cout, ch2, k, 1, b.cout, shuffle=b.cout if g > 1 else 1)
        self.act3 = make_activation(spec, ch2)
        self.conv4 = conv_bn(ch2, b.cout, 1, 1, g)

    def forward(self, x: torch.Tensor, token0: torch.Tensor | None) -> torch.Tensor:
        mid = self.conv2(self.act1(self.conv1(x), token0))
        return self.conv4(self.act3(self.conv3(mid), token0)) + mid


class MobileToFormer(nn.Module):
    """Light-weight cross attention local -> global (official Local2Global, attn type):
    tokens query the raw feature map (no W^K, W^V), a dynamic gate 2*h_sigmoid(W_g z) scales the
    result, W^O projects back to d, then residual + post-LN. The `mlp` ablation replaces the
    attention with the official static Linear(positions -> tokens)."""

    pillar = P.MOBILE_TO_FORMER

    def __init__(self, spec: MobileFormerSpec, channels: int, positions: int):
        super().__init__()
        d, self.heads = spec.token_dim, spec.bridge_heads
        self.mha = spec.former_attention == "mha"
        if self.mha:
            self.scale = (channels // self.heads) ** -0.5
            self.q = nn.Linear(d, channels)
            self.attend = nn.Softmax(dim=-1)  # over pixels; a module, so hooks see the weights
        else:
            self.mix = nn.Linear(positions, spec.tokens)
        self.gate = nn.Linear(d, channels)
        self.gate_act = HSigmoid()
        self.proj = nn.Linear(channels, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        m = z.shape[1]
        if self.mha:
            q = self.q(z).reshape(b, m, self.heads, c // self.heads).transpose(1, 2)
            k = x.reshape(b, self.heads, c // self.heads, h * w)
            attn = self.attend((q @ k) * self.scale)  # b, heads, m, L
            out = (attn @ k.transpose(-1, -2)).transpose(1, 2).reshape(b, m, c)
        else:
            out = self.mix(x.reshape(b, c, h * w)).transpose(1, 2)
        out = out * (2.0 * self.gate_act(self.gate(z)))
        return self.norm(z + self.proj(out))


class Former(nn.Module):
    """Token transformer (official GlobalBlock): W^Q only (K = V = tokens), W^O, post-LN, and an
    FFN of ratio `ffn_ratio` with GELU. The `mlp` ablation mixes tokens with the official static
    token MLP Linear(M, rM) + GELU + Linear(rM, M) instead of attention."""

    pillar = P.FORMER

    def __init__(self, spec: MobileFormerSpec):
        super().__init__()
        d, m, self.heads = spec.token_dim, spec.tokens, spec.former_heads
        self.mha = spec.former_attention == "mha"
        if self.mha:
            self.scale = (d // self.heads) ** -0.5
            self.q = nn.Linear(d, d)
        else:
            r = spec.token_mlp_ratio
            self.token_mix = nn.Sequential(nn.Linear(m, r * m), nn.GELU(), nn.Linear(r * m, m))
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)
        self.ffn = None
        if spec.former_ffn:
            hidden = spec.ffn_ratio * d
            self.ffn = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))
            self.ffn_norm = nn.LayerNorm(d)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        b, m, d = z.shape
        if self.mha:
            dh = d // self.heads
            q = self.q(z).reshape(b, m, self.heads, dh).transpose(1, 2)
            k = z.reshape(b, m, self.heads, dh).permute(0, 2, 3, 1)  # b, heads, dh, m
            attn = ((q @ k) * self.scale).softmax(dim=-1)
            out = (attn @ k.transpose(-1, -2)).transpose(1, 2).reshape(b, m, d)
        else:
            out = self.token_mix(z.transpose(1, 2)).transpose(1, 2)
        z = self.norm(z + self.proj(out))
        if self.ffn is not None:
            z = self.ffn_norm(z + self.ffn(z))
        return z


class FormerToMobile(nn.Module):
    """Cross attention global -> local (official Global2Local, attn type): the raw feature map is
    the query (no W^Q), W^K and W^V project tokens to C, output added to the features (no norm).
    The `mlp` ablation replaces attention with the official static Linear(tokens -> positions)."""

    pillar = P.FORMER_TO_MOBILE

    def __init__(self, spec: MobileFormerSpec, channels: int, positions: int):
        super().__init__()
        d, self.heads = spec.token_dim, spec.bridge_heads
        self.mha = spec.former_attention == "mha"
        if self.mha:
            self.scale = (channels // self.heads) ** -0.5
            self.k = nn.Linear(d, channels)
            self.attend = nn.Softmax(dim=-1)  # over tokens; a module, so hooks see the weights
        else:
            self.mix = nn.Linear(spec.tokens, positions)
        self.v = nn.Linear(d, channels)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        m = z.shape[1]
        v = self.v(z).transpose(1, 2)  # b, c, m
        if self.mha:
            dh = c // self.heads
            q = x.reshape(b, self.heads, dh, h * w).transpose(-1, -2)  # b, heads, L, dh
            k = self.k(z).transpose(1, 2).reshape(b, self.heads, dh, m)
            attn = self.attend((q @ k) * self.scale)  # b, heads, L, m
            out = (attn @ v.reshape(b, self.heads, dh, m).transpose(-1, -2))
            out = out.transpose(-1, -2).reshape(b, c, h, w)
        else:
            out = self.mix(v).reshape(b, c, h, w)
        return x + out


class MobileFormerBlock(nn.Module):
    """Mobile->Former on the block input, Former, Mobile (DyReLU driven by token 0),
    Mobile<-Former on the Mobile output (after its residual)."""

    def __init__(self, spec: MobileFormerSpec, b: BlockLayout):
        super().__init__()
        self.with_former = spec.former
        if spec.former:
            self.mobile_to_former = MobileToFormer(spec, b.cin, b.res_in.area)
            self.former = Former(spec)
        self.mobile = MobileDownsample(spec, b) if b.downsample else MobileStride1(spec, b)
        if spec.former:
            self.former_to_mobile = FormerToMobile(spec, b.cout, b.res_out.area)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None):
        if not self.with_former:
            return self.mobile(x, None), z
        z = self.former(self.mobile_to_former(x, z))
        x = self.mobile(x, z[:, 0])
        return self.former_to_mobile(x, z), z


class Head(nn.Module):
    """Official MergeClassifier: [shuffle] grouped 1x1 conv + BN + ReLU6, avg pool + h_swish,
    concat token 0, FC1 + BN1d + h_swish, dropout, FC2."""

    pillar = P.HEAD
    bn_folds = (("conv", "bn"), ("fc1", "fc1_bn"))  # see models/fold.py

    def __init__(self, spec: MobileFormerSpec, cin: int):
        super().__init__()
        g = spec.groups
        self.shuffle = ChannelShuffle(g) if g > 1 else nn.Identity()
        self.conv = nn.Conv2d(cin, spec.head_conv, 1, 1, 0, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(spec.head_conv)
        self.act = nn.ReLU6(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.pool_act = HSwish()
        token = spec.token_dim if spec.former else 0
        self.fc1 = nn.Linear(spec.head_conv + token, spec.fc1)
        self.fc1_bn = nn.BatchNorm1d(spec.fc1)
        self.fc1_act = HSwish()
        self.dropout = nn.Dropout(spec.dropout)
        self.fc2 = nn.Linear(spec.fc1, spec.num_classes)

    def forward(self, x: torch.Tensor, token0: torch.Tensor | None) -> torch.Tensor:
        x = self.act(self.bn(self.conv(self.shuffle(x))))
        x = self.pool_act(self.pool(x)).flatten(1)
        if token0 is not None:
            x = torch.cat([x, token0], dim=1)
        x = self.fc1_act(self.fc1_bn(self.fc1(x)))
        return self.fc2(self.dropout(x))


class GlobalTokens(nn.Embedding):
    """The M learned global tokens (an Embedding, as in the official code: N(0, 1) init)."""

    pillar = P.FORMER


class MobileFormer(nn.Module):
    pillar_names = P.PILLARS
    head_modules = ("final_mobile_to_former", "head")  # what a detection backbone drops

    def __init__(self, spec: MobileFormerSpec, resolution: int = 224):
        super().__init__()
        layout: Layout = resolve(spec, resolution)
        self.spec, self.resolution = spec, resolution
        if spec.former:
            self.tokens = GlobalTokens(spec.tokens, spec.token_dim)
        self.stem = Stem(spec.stem)
        bl = layout.bneck_lite
        self.bneck_lite = BneckLite(bl.cin, bl.hidden, bl.cout, bl.stride, spec.groups)
        self.blocks = nn.ModuleList(MobileFormerBlock(spec, b) for b in layout.blocks)
        if spec.former:
            self.final_mobile_to_former = MobileToFormer(spec, layout.last_width,
                                                         layout.last_res.area)
        self.head = Head(spec, layout.last_width)
        self._init_weights()

    def _init_weights(self) -> None:
        """The official initialisation: He-normal convs, N(0, 0.01) linears, unit BN."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """Parameters trained without weight decay besides biases and norms (timm's hook):
        the learned tokens, which are data, not weights."""
        return {"tokens.weight"} if self.spec.former else set()

    def parts(self) -> list[tuple[str, nn.Module]]:
        """The modules of the cost model's parts (same names), in execution order."""
        named = [("stem", self.stem), ("bneck_lite", self.bneck_lite)]
        named += [(f"block{i + 1}", b) for i, b in enumerate(self.blocks)]
        if self.spec.former:
            named.append(("final_mobile_to_former", self.final_mobile_to_former))
        return named + [("head", self.head)]

    def feature_levels(self) -> list[tuple[int, int]]:
        """(stride, channels) of the map after the stem, the bneck-lite and each block."""
        lay = resolve(self.spec, self.resolution)
        stride = 2
        levels = [(stride, lay.stem.cout)]
        stride *= lay.bneck_lite.stride
        levels.append((stride, lay.bneck_lite.cout))
        for b in lay.blocks:
            stride *= b.stride
            levels.append((stride, b.cout))
        return levels

    def _tokens(self, x: torch.Tensor) -> torch.Tensor | None:
        return self.tokens.weight.unsqueeze(0).repeat(x.shape[0], 1, 1) if self.spec.former else None

    def forward_features(self, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
        """The Mobile maps after the stages (stem = 0, bneck-lite = 1, blocks) in `taps`."""
        z = self._tokens(x)
        x = self.stem(x)
        maps = [x] if 0 in taps else []
        x = self.bneck_lite(x)
        if 1 in taps:
            maps.append(x)
        for i, block in enumerate(self.blocks, start=2):
            x, z = block(x, z)
            if i in taps:
                maps.append(x)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self._tokens(x)
        x = self.bneck_lite(self.stem(x))
        for block in self.blocks:
            x, z = block(x, z)
        if z is not None:
            z = self.final_mobile_to_former(x, z)
        return self.head(x, z[:, 0] if z is not None else None)


def check_buildable(spec: MobileFormerSpec, resolution: int) -> None:
    layout = resolve(spec, resolution)
    largest = max([layout.stem.cout * layout.stem.res_out.area,
                   layout.bneck_lite.hidden * layout.bneck_lite.res_in.area]
                  + [max(b.hidden) * b.res_in.area for b in layout.blocks])
    check_limits(spec.name, resolution, analyze(spec, resolution).params, largest)


def build_model(spec: MobileFormerSpec, resolution: int = 224) -> MobileFormer:
    """A torch Mobile-Former for `spec`. `resolution` only fixes the static position mixers of the
    `former_attention: mlp` ablation; attention models run at any input size."""
    check_buildable(spec, resolution)
    return MobileFormer(spec, resolution)
