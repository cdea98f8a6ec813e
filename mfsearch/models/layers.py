"""Torch building blocks every family uses."""

from __future__ import annotations

from torch import nn


def conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1,
            groups: int = 1) -> nn.Sequential:
    """A bias-free 'same'-padded conv and its BatchNorm (what `cost.layers.conv_bn` counts, and
    what `models.fold` folds into one conv)."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups,
                                   bias=False), nn.BatchNorm2d(cout))
