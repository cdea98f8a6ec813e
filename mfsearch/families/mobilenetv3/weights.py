"""timm's MobileNetV3 tensor names (timm >= 1.0, `timm/models/mobilenetv3.py`) onto ours. The
blocks are named alike; timm's stem (`conv_stem`, `bn1`), its last stage (`blocks.<n>.0`, the
1x1 conv) and its head (`conv_head`, `classifier`) are our `stem`, `final_conv` and `head`."""

from __future__ import annotations

__all__ = ["from_timm"]


def from_timm(state: dict, model) -> tuple[dict, str] | None:
    """`state` in our names if it is in timm's naming; None otherwise."""
    if "conv_stem.weight" not in state:
        return None
    renames = {"conv_stem.": "stem.0.", "bn1.": "stem.1.",
               f"blocks.{len(model.spec.stages)}.0.": "final_conv.",
               "conv_head.": "head.conv.", "classifier.": "head.classifier."}
    out = {}
    for name, tensor in state.items():
        prefix = next((p for p in renames if name.startswith(p)), None)
        out[renames[prefix] + name[len(prefix):] if prefix else name] = tensor
    return out, "timm MobileNetV3 names"
