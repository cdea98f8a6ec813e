"""The bridge's cross-attention weights, read by forward hooks on each bridge's softmax (the
model's output is untouched), shaped heads x tokens x H x W as the paper's Figures 4-7 show them.

Mobile->Former: each token's attention over the block's input pixels (sums to 1 over pixels).
Mobile<-Former: each output pixel's attention over the tokens (sums to 1 over tokens).
"""

from __future__ import annotations

import numpy as np
import torch

from ...errors import UserError
from ...spec.geometry import Size
from .layout import resolve

__all__ = ["DIRECTIONS", "attention_maps"]

DIRECTIONS = ("mobile_to_former", "former_to_mobile")


def attention_maps(model, images: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """(logits, {block number (1-based): {direction: array heads x tokens x H x W}}) for the
    first image of `images`."""
    spec = model.spec
    if not spec.former:
        raise UserError(f"{spec.name}: no Former (former: false), so no bridge to look into")
    if spec.former_attention != "mha":
        raise UserError(f"{spec.name}: the bridge mixes with static MLPs (former_attention: "
                        f"{spec.former_attention}), which have no attention weights")
    layout = resolve(spec, Size(*images.shape[-2:]))
    captured: dict[tuple[int, str], torch.Tensor] = {}
    handles = []
    for i, block in enumerate(model.blocks):
        for direction in DIRECTIONS:
            def hook(module, args, output, key=(i, direction)):
                captured[key] = output[0].detach()
            handles.append(getattr(block, direction).attend.register_forward_hook(hook))
    try:
        with torch.inference_mode():
            logits = model(images)
    finally:
        for handle in handles:
            handle.remove()
    maps: dict[int, dict[str, np.ndarray]] = {}
    for b in layout.blocks:
        to_former = captured[(b.index, "mobile_to_former")]  # heads, tokens, pixels
        to_mobile = captured[(b.index, "former_to_mobile")]  # heads, pixels, tokens
        heads = to_former.shape[0]
        maps[b.index + 1] = {
            "mobile_to_former": to_former.reshape(heads, spec.tokens, b.res_in.h,
                                                  b.res_in.w).numpy(),
            "former_to_mobile": to_mobile.transpose(-1, -2).reshape(
                heads, spec.tokens, b.res_out.h, b.res_out.w).numpy()}
    return logits, maps
