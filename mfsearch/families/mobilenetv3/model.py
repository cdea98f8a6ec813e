"""The torch MobileNetV3 built from a spec, module for module as timm's `MobileNetV3`: the blocks
have timm's tensor names; the stem, the last 1x1 conv (timm's last stage) and the head are
modules of their own here (`weights.py` maps timm's names onto them).

Every module that costs something carries a `pillar` tag, so fvcore's and the profiler's
per-module results map onto the cost model's pillars.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ...models.features import staged_maps
from ...models.limits import check_limits
from . import pillars as P
from .cost import analyze
from .layout import BlockLayout, Layout, resolve
from .spec import MobileNetV3Spec

_ACTIVATIONS = {"relu": lambda: nn.ReLU(inplace=True), "hard_swish": nn.Hardswish}


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)


class SqueezeExcite(nn.Module):
    """x * hard_sigmoid(expand(relu(reduce(mean(x))))), as timm's EfficientNet-family SE."""

    pillar = P.SE

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, squeeze, 1)
        self.act1 = nn.ReLU(inplace=True)
        self.conv_expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.conv_expand(self.act1(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        return x * self.gate(scale)


def _se(b: BlockLayout) -> nn.Module:
    return SqueezeExcite(b.hidden, b.se) if b.se else nn.Identity()


class DepthwiseSeparable(nn.Module):
    """dw k x k + BN + act, SE, linear 1x1 + BN, residual when shapes allow."""

    pillar = P.BLOCKS
    bn_folds = (("conv_dw", "bn1"), ("conv_pw", "bn2"))  # see models/fold.py

    def __init__(self, b: BlockLayout):
        super().__init__()
        self.residual = b.residual
        self.conv_dw = _conv(b.cin, b.cin, b.kernel, b.stride, b.cin)
        self.bn1 = nn.BatchNorm2d(b.cin)
        self.act = _ACTIVATIONS[b.act]()
        self.se = _se(b)
        self.conv_pw = _conv(b.cin, b.cout, 1)
        self.bn2 = nn.BatchNorm2d(b.cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_pw(self.se(self.act(self.bn1(self.conv_dw(x))))))
        return out + x if self.residual else out


class InvertedResidual(nn.Module):
    """1x1 expand + BN + act, dw k x k + BN + act, SE, linear 1x1 + BN, residual when shapes
    allow."""

    pillar = P.BLOCKS
    bn_folds = (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3"))

    def __init__(self, b: BlockLayout):
        super().__init__()
        self.residual = b.residual
        self.conv_pw = _conv(b.cin, b.hidden, 1)
        self.bn1 = nn.BatchNorm2d(b.hidden)
        self.act1 = _ACTIVATIONS[b.act]()
        self.conv_dw = _conv(b.hidden, b.hidden, b.kernel, b.stride, b.hidden)
        self.bn2 = nn.BatchNorm2d(b.hidden)
        self.act2 = _ACTIVATIONS[b.act]()
        self.se = _se(b)
        self.conv_pwl = _conv(b.hidden, b.cout, 1)
        self.bn3 = nn.BatchNorm2d(b.cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv_pw(x)))
        out = self.se(self.act2(self.bn2(self.conv_dw(out))))
        out = self.bn3(self.conv_pwl(out))
        return out + x if self.residual else out


class FinalConv(nn.Module):
    """The 1x1 conv + BN + hard-swish that opens the efficient last stage."""

    pillar = P.HEAD
    bn_folds = (("conv", "bn1"),)

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = _conv(cin, cout, 1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act = nn.Hardswish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn1(self.conv(x)))


class Stem(nn.Sequential):
    """3x3 stride-2 conv + BN + activation."""

    pillar = P.STEM

    def __init__(self, cout: int, act: str):
        super().__init__(_conv(3, cout, 3, 2), nn.BatchNorm2d(cout), _ACTIVATIONS[act]())


class Head(nn.Module):
    """Global average pool, the conv-head layer (1x1 with bias) + hard-swish, classifier."""

    pillar = P.HEAD

    def __init__(self, cin: int, hidden: int, num_classes: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv2d(cin, hidden, 1)
        self.act = nn.Hardswish()
        self.flatten = nn.Flatten(1)
        self.classifier = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.flatten(self.act(self.conv(self.pool(x)))))


class MobileNetV3(nn.Module):
    pillar_names = P.PILLARS
    head_modules = ("final_conv", "head")  # what a detection backbone drops

    def __init__(self, spec: MobileNetV3Spec, resolution=224):
        super().__init__()
        layout: Layout = resolve(spec, resolution)
        self.spec, self.layout = spec, layout
        self.stem = Stem(layout.stem, spec.stem_act)
        stages = [[] for _ in spec.stages]
        for b in layout.blocks:
            stages[b.stage].append(DepthwiseSeparable(b) if b.kind == "ds" else
                                   InvertedResidual(b))
        self.blocks = nn.Sequential(*(nn.Sequential(*s) for s in stages))
        self.final_conv = FinalConv(layout.blocks[-1].cout, layout.last_conv)
        self.head = Head(layout.last_conv, spec.head, spec.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        """timm's initialisation for this family: He-normal convs (fan-out), uniform linears
        (1 / sqrt(fan-out)), unit BatchNorms, zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.weight.shape[0])
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def parts(self) -> list[tuple[str, nn.Module]]:
        """The modules of the cost model's parts (same names), in execution order."""
        blocks = [(f"block{n}", m) for n, m in
                  enumerate((m for stage in self.blocks for m in stage), start=1)]
        return [("stem", self.stem), *blocks, ("final_conv", self.final_conv),
                ("head", self.head)]

    def feature_levels(self) -> list[tuple[int, int]]:
        """(stride, channels) of the map after the stem and after each stage."""
        levels = [(2, self.layout.stem)]
        stride = 2
        for s in range(len(self.spec.stages)):
            in_stage = [b for b in self.layout.blocks if b.stage == s]
            for b in in_stage:
                stride *= b.stride
            levels.append((stride, in_stage[-1].cout))
        return levels

    def forward_features(self, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
        """The maps after the stages (stem = 0, then the spec's stages) in `taps`."""
        return staged_maps(x, [self.stem, *self.blocks], taps)

    def get_classifier(self) -> nn.Linear:
        return self.head.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.final_conv(self.blocks(self.stem(x))))


def build_model(spec: MobileNetV3Spec, resolution=224) -> MobileNetV3:
    """A torch MobileNetV3; `resolution` only sizes the memory check (any input size runs)."""
    layout = resolve(spec, resolution)
    largest = max([layout.stem * layout.stem_res.area]
                  + [b.hidden * b.res_in.area for b in layout.blocks])
    check_limits(spec.name, resolution, analyze(spec, resolution).params, largest)
    return MobileNetV3(spec, resolution)
