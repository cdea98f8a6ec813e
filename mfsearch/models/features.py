"""A classifier turned detection backbone, as timm's `features_only` does: the classifier head
goes, and the forward returns the multi-scale feature maps an FPN or RetinaNet consumes.

A family's model supplies `feature_levels()` ((stride, channels) of the map after each of its
stages, in execution order), `forward_features(x, taps)` (the maps after the stages whose
indices are in `taps`) and `head_modules` (attribute names only the classifier uses). The whole
network up to its last stage runs; `strides` only choose which maps come back.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import UserError

__all__ = ["DEFAULT_STRIDES", "Backbone", "parse_strides", "staged_maps"]

DEFAULT_STRIDES = (8, 16, 32)


def parse_strides(text: str) -> tuple[int, ...]:
    try:
        strides = tuple(sorted({int(s) for s in text.split(",") if s.strip()}))
    except ValueError:
        raise UserError(f"strides: expected comma-separated integers, got {text!r}") from None
    if not strides:
        raise UserError("strides: give at least one, e.g. 8,16,32")
    return strides


def staged_maps(x: torch.Tensor, modules, taps: tuple[int, ...]) -> list[torch.Tensor]:
    """Run `modules` (a stem, then the stages) in turn and keep the outputs whose index is in
    `taps`: `forward_features` of a family whose stages pass one tensor along."""
    maps = []
    for i, module in enumerate(modules):
        x = module(x)
        if i in taps:
            maps.append(x)
    return maps


class Backbone(nn.Module):
    """`model` without its classifier; `forward` returns a tuple of maps, one per stride (in
    increasing stride). `channels` and `feature_info` say what each map holds."""

    def __init__(self, model: nn.Module, strides: tuple[int, ...] = DEFAULT_STRIDES):
        super().__init__()
        if not hasattr(model, "feature_levels"):
            raise UserError(f"{type(model).__name__}: its family's model has no backbone mode "
                            "(it does not expose feature_levels and forward_features)")
        levels = model.feature_levels()
        have = sorted({s for s, _ in levels})
        strides = tuple(sorted(set(strides)))
        missing = [s for s in strides if s not in have]
        if missing:
            raise UserError(f"{model.spec.name}: no feature map at stride "
                            f"{', '.join(map(str, missing))}; its maps are at strides "
                            f"{', '.join(map(str, have))}")
        # The last stage at each stride: its map is the most processed one of that size.
        self.taps = tuple(max(i for i, (s, _) in enumerate(levels) if s == stride)
                          for stride in strides)
        for name in model.head_modules:
            if hasattr(model, name):
                setattr(model, name, None)
        self.body = model
        self.spec = model.spec
        self.pillar_names = model.pillar_names
        self.strides = strides
        self.channels = tuple(levels[i][1] for i in self.taps)
        self.feature_info = [{"stride": s, "channels": c}
                             for s, c in zip(self.strides, self.channels)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.body.forward_features(x, self.taps))
