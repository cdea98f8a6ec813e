"""Torch model of the test family; modules carry the cost model's pillar tags."""

from __future__ import annotations

import torch
from torch import nn

from .cost import PILLARS


def conv_bn_act(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([nn.ReLU6()] if act else []))


class Block(nn.Module):
    pillar = "blocks"

    def __init__(self, cin: int, b):
        super().__init__()
        hidden = cin * b.expand
        self.body = nn.Sequential(conv_bn_act(cin, hidden, 1),
                                  conv_bn_act(hidden, hidden, 3, b.stride, hidden),
                                  conv_bn_act(hidden, b.out, 1, act=False))
        self.residual = b.stride == 1 and cin == b.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class Head(nn.Module):
    pillar = "head"

    def __init__(self, cin: int, width: int, classes: int):
        super().__init__()
        self.conv = conv_bn_act(cin, width, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.conv(x)).flatten(1))


class TinyNet(nn.Module):
    pillar_names = PILLARS

    def __init__(self, spec):
        super().__init__()
        self.stem = conv_bn_act(3, spec.stem, 3, 2)
        self.stem.pillar = "stem"
        blocks, cin = [], spec.stem
        for b in spec.blocks:
            blocks.append(Block(cin, b))
            cin = b.out
        self.blocks = nn.Sequential(*blocks)
        self.head = Head(cin, spec.head, spec.num_classes)

    def parts(self) -> list[tuple[str, nn.Module]]:
        """The cost model's parts (same names): what a latency lookup table times alone."""
        blocks = [(f"block{i + 1}", b) for i, b in enumerate(self.blocks)]
        return [("stem", self.stem), *blocks, ("head", self.head)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def build_model(spec, resolution: int = 224) -> TinyNet:
    return TinyNet(spec)
