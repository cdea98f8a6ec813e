"""Fold inference BatchNorms into the conv or linear layer next to them.

Deployed mobile networks run with BN folded (iFormer's authors count params and MACs that way,
and latency is measured that way), so this is the model `mfsearch latency` times. Pairs are
found in every `nn.Sequential` ([Conv2d, BatchNorm2d], [Linear, BatchNorm1d], [BatchNorm1d,
Linear]) and in a module's `bn_folds` attribute, a tuple of (layer, norm) attribute names for
pairs that a hand-written forward applies in that order. Then every module with a `fold_scale()`
method folds its own learned scale (a layer scale, say) into the layer before it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _scale_shift(bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _with_bias(layer: nn.Module) -> nn.Module:
    if layer.bias is None:
        layer.bias = nn.Parameter(torch.zeros(layer.weight.shape[0], dtype=layer.weight.dtype,
                                              device=layer.weight.device))
    return layer


@torch.no_grad()
def fold_after(layer: nn.Module, bn: nn.Module) -> nn.Module:
    """`layer` then `bn` as one layer: output channel o scaled by s[o] and shifted."""
    scale, shift = _scale_shift(bn)
    layer = _with_bias(layer)
    layer.weight.mul_(scale.reshape(-1, *([1] * (layer.weight.ndim - 1))))
    layer.bias.copy_(layer.bias * scale + shift)
    return layer


@torch.no_grad()
def fold_before(bn: nn.Module, linear: nn.Linear) -> nn.Linear:
    """`bn` then `linear` as one linear: input feature i scaled by s[i], shift pushed through."""
    scale, shift = _scale_shift(bn)
    linear = _with_bias(linear)
    linear.bias.add_(linear.weight @ shift)
    linear.weight.mul_(scale.unsqueeze(0))
    return linear


def _fold_sequential(seq: nn.Sequential) -> int:
    folded = 0
    for a in range(len(seq) - 1):
        first, second = seq[a], seq[a + 1]
        if isinstance(second, _NORMS) and isinstance(first, (nn.Conv2d, nn.Linear)):
            seq[a], seq[a + 1] = fold_after(first, second), nn.Identity()
            folded += 1
        elif isinstance(first, nn.BatchNorm1d) and isinstance(second, nn.Linear):
            seq[a + 1], seq[a] = fold_before(first, second), nn.Identity()
            folded += 1
    return folded


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of `model` with its BatchNorms folded away (the original is untouched)."""
    model = copy.deepcopy(model).eval()
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            _fold_sequential(module)
        for layer_name, norm_name in getattr(module, "bn_folds", ()):
            layer, norm = getattr(module, layer_name), getattr(module, norm_name)
            if isinstance(norm, _NORMS):
                setattr(module, layer_name, fold_after(layer, norm))
                setattr(module, norm_name, nn.Identity())
    for module in list(model.modules()):
        if hasattr(module, "fold_scale"):
            module.fold_scale()
    return model
