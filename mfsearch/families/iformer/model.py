"""The torch iFormer built from an `IFormerSpec`, layer for layer as the official
`models/iformer.py` (BN everywhere, GELU, no LayerNorm).

Every module that costs something carries a `pillar` tag (as in the Mobile-Former model), so
fvcore's and the profiler's per-module results map onto the cost model's pillars. Layer scale
(iFormer-H's 1e-6 gammas, `layer_scale` in the spec) is built as timm builds it; at inference it
folds into the last conv of its branch, so the authors' (folded) parameter counts leave it out.
"""

from __future__ import annotations

import torch
from torch import nn

from ...models.features import staged_maps
from ...models.layers import conv_bn
from ...models.limits import check_limits
from . import pillars as P
from .cost import analyze
from .spec import IFormerSpec, IFormerStage


class Residual(nn.Module):
    """x + branch(x), or x + gamma * branch(x) with a learned per-channel layer scale."""

    def __init__(self, branch: nn.Module, layer_scale: float = 0.0, width: int = 0):
        super().__init__()
        self.branch = branch
        self.gamma = (nn.Parameter(torch.full((1, width, 1, 1), layer_scale))
                      if layer_scale > 0 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gamma is None:
            return x + self.branch(x)
        return x + self.gamma * self.branch(x)

    @torch.no_grad()
    def fold_scale(self) -> None:
        """Fold gamma into the branch's last conv (run after BN folding, for inference)."""
        if self.gamma is None:
            return
        last = [m for m in self.branch.modules() if isinstance(m, nn.Conv2d)][-1]
        gamma = self.gamma.flatten()
        last.weight.mul_(gamma.reshape(-1, 1, 1, 1))
        if last.bias is not None:
            last.bias.mul_(gamma)
        self.gamma = None


class Stem(nn.Sequential):
    """Conv k s2 + BN + GELU, then a FusedIB (conv k s2 expanding + BN + GELU, 1x1 + BN)."""

    pillar = P.STEM

    def __init__(self, spec: IFormerSpec):
        c1, k = spec.widths[0], spec.stem_kernel
        half = c1 // 2
        mid = spec.stem_expand * half
        super().__init__(conv_bn(3, half, k, 2), nn.GELU(), conv_bn(half, mid, k, 2), nn.GELU(),
                         conv_bn(mid, c1))


class Downsample(nn.Sequential):
    pillar = P.DOWNSAMPLE

    def __init__(self, cin: int, cout: int):
        super().__init__(*conv_bn(cin, cout, 3, 2))


class ConvBlock(Residual):
    """ConvNeXt block with BN: dw k x k, 1x1 expand, GELU, 1x1 project."""

    pillar = P.CONV

    def __init__(self, spec: IFormerSpec, width: int):
        hidden = spec.conv_ratio * width
        super().__init__(nn.Sequential(conv_bn(width, width, spec.conv_kernel, groups=width),
                                       conv_bn(width, hidden), nn.GELU(), conv_bn(hidden, width)),
                         spec.layer_scale, width)


class CPE(Residual):
    pillar = P.CPE

    def __init__(self, spec: IFormerSpec, width: int):
        super().__init__(conv_bn(width, width, spec.cpe_kernel, groups=width))


class SHMA(nn.Module):
    """Single-head modulation attention (official code: the sigmoid is applied to the values
    before the attention product and to the gate)."""

    pillar = P.ATTENTION

    def __init__(self, stage: IFormerStage):
        super().__init__()
        c, d = stage.width, stage.qk_width
        self.scale = d ** -0.5
        self.q = conv_bn(c, d)
        self.k = conv_bn(c, d)
        self.v_gate = conv_bn(c, 2 * c)
        self.proj = conv_bn(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        v, gate = torch.sigmoid(self.v_gate(x)).chunk(2, dim=1)
        q = self.q(x).flatten(2) * self.scale
        k = self.k(x).flatten(2)
        attn = (q.transpose(-2, -1) @ k).softmax(dim=-1)  # (b, n, n)
        out = (v.flatten(2) @ attn.transpose(-2, -1)).reshape(b, c, h, w)
        return self.proj(out * gate)


class FFN(Residual):
    pillar = P.FFN

    def __init__(self, spec: IFormerSpec, width: int):
        hidden = spec.ffn_ratio * width
        super().__init__(nn.Sequential(conv_bn(width, hidden), nn.GELU(), conv_bn(hidden, width)),
                         spec.layer_scale, width)


class AttentionBlock(nn.Sequential):
    """CPE, SHMA and FFN, each with its own residual (three 'blocks' in the official depths)."""

    def __init__(self, spec: IFormerSpec, stage: IFormerStage):
        super().__init__(CPE(spec, stage.width),
                         Residual(SHMA(stage), spec.layer_scale, stage.width),
                         FFN(spec, stage.width))


class Head(nn.Sequential):
    """Global average pool, BN1d, linear classifier (the official BN_Linear)."""

    pillar = P.HEAD

    def __init__(self, width: int, num_classes: int):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.BatchNorm1d(width),
                         nn.Linear(width, num_classes))


class IFormer(nn.Module):
    pillar_names = P.PILLARS
    head_modules = ("head",)  # what a detection backbone drops

    def __init__(self, spec: IFormerSpec):
        super().__init__()
        self.spec = spec
        self.stem = Stem(spec)
        stages = []
        for i, stage in enumerate(spec.stages):
            blocks: list[nn.Module] = []
            if i:
                blocks.append(Downsample(spec.stages[i - 1].width, stage.width))
            blocks += [ConvBlock(spec, stage.width) for _ in range(stage.conv)]
            blocks += [AttentionBlock(spec, stage) for _ in range(stage.attn)]
            blocks += [ConvBlock(spec, stage.width) for _ in range(stage.conv_after)]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.head = Head(spec.last_width, spec.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """The official initialisation: truncated normal (std 0.02) weights, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def parts(self) -> list[tuple[str, nn.Module]]:
        """The modules of the cost model's parts (same names), in execution order."""
        named: list[tuple[str, nn.Module]] = [("stem", self.stem)]
        for i, stage in enumerate(self.stages):
            blocks = list(stage)
            if i:
                named.append((f"down{i + 1}", blocks.pop(0)))
            named += [(f"s{i + 1}.{j + 1}", b) for j, b in enumerate(blocks)]
        return named + [("head", self.head)]

    def feature_levels(self) -> list[tuple[int, int]]:
        """(stride, channels) of the map after the stem and after each stage."""
        widths = self.spec.widths
        return [(4, widths[0])] + [(4 * 2 ** i, w) for i, w in enumerate(widths)]

    def forward_features(self, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
        """The maps after the stages (stem = 0, then stages 1-4) in `taps`."""
        return staged_maps(x, [self.stem, *self.stages], taps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def build_model(spec: IFormerSpec, resolution: int = 224) -> IFormer:
    """A torch iFormer; `resolution` only sizes the memory check (the model takes any size)."""
    _, sizes = spec.feature_sizes(resolution)
    widest = max(spec.conv_ratio, spec.ffn_ratio, 2)
    largest = max([spec.stem_expand * (spec.widths[0] // 2) * sizes[0].area]
                  + [widest * s.width * n.area for s, n in zip(spec.stages, sizes)]
                  + [n.area ** 2 for s, n in zip(spec.stages, sizes) if s.attn])  # attention map
    check_limits(spec.name, resolution, analyze(spec, resolution).params, largest)
    return IFormer(spec)
