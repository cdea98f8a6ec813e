"""The inputs each of a model's parts sees: what a part timed or exported alone is fed."""

from __future__ import annotations

import torch
from torch import nn


def model_parts(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The cost model's parts of `model` (of the classifier a backbone wraps, too)."""
    return getattr(model, "body", model).parts()


def part_inputs(model: nn.Module, *inputs: torch.Tensor) -> dict[str, tuple]:
    """Part name -> the positional inputs it receives when `model` runs on `inputs` (parts a
    backbone never runs are absent). Captured under no_grad, not inference mode: exporters
    trace parts on them, and tensors made in inference mode cannot be traced."""
    captured: dict[str, tuple] = {}
    handles = [m.register_forward_pre_hook(
        lambda mod, args, name=name: captured.__setitem__(name, args))
        for name, m in model_parts(model)]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return captured
