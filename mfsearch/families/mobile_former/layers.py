"""Mobile-Former's small building blocks: hard sigmoid/swish, channel shuffle, conv + BN and the
dynamic ReLU whose coefficients the Former's first token generates (official `dna_blocks.py`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...models.layers import conv_bn as conv_bn_plain
from . import pillars as P
from .spec import MobileFormerSpec


class HSigmoid(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + 3.0) / 6.0


class HSwish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (F.relu6(x + 3.0) / 6.0)


class ChannelShuffle(nn.Module):
    """ShuffleNet channel shuffle (free in MAdds); used after grouped 1x1 convs when groups > 1."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return x.reshape(b, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(b, c, h, w)


def conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
            shuffle: int = 1) -> nn.Sequential:
    """Conv + BN, then a channel shuffle after grouped 1x1 convs (shuffle > 1)."""
    seq = conv_bn_plain(cin, cout, kernel, stride, groups)
    if shuffle > 1:
        seq.append(ChannelShuffle(shuffle))
    return seq


class DynamicReLU(nn.Module):
    """Official DyReLU: K=2, slopes only, y = max(a1*x, a2*x), coefficients per channel generated
    from token 0 by Linear(d, d/r) + ReLU + Linear(d/r, 2C) + h_sigmoid."""

    pillar = P.DYRELU

    def __init__(self, channels: int, token_dim: int, reduction: int):
        super().__init__()
        self.channels = channels
        squeeze = token_dim // reduction
        self.hyper = nn.Sequential(nn.Linear(token_dim, squeeze), nn.ReLU(inplace=True),
                                   nn.Linear(squeeze, 2 * channels), HSigmoid())

    def forward(self, x: torch.Tensor, token0: torch.Tensor) -> torch.Tensor:
        coef = self.hyper(token0)[:, :, None, None]
        a1 = (coef[:, : self.channels] - 0.5) * 2.0 + 1.0  # in [0, 2]
        a2 = (coef[:, self.channels:] - 0.5) * 2.0  # in [-1, 1]
        return torch.maximum(x * a1, x * a2)


class StaticReLU6(nn.ReLU6):
    """The `activation: relu` ablation: ReLU6, as the official code uses when DyReLU is off."""

    def forward(self, x: torch.Tensor, token0: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(x)


def make_activation(spec: MobileFormerSpec, channels: int) -> nn.Module:
    if spec.activation == "dyrelu":
        return DynamicReLU(channels, spec.token_dim, spec.dyrelu_reduction)
    return StaticReLU6()
