"""timm's iFormer tensor names (timm >= 1.0, `timm/models/iformer.py`) onto ours.

timm lists a stage's CPE, SHMA and FFN as three blocks (`stages.i.blocks.j`) where we group
them into one attention block (children 0, 1, 2), and opens stages 2-4 with `downsample` where
we put the downsampling conv first in the stage. Each conv + BN is `c`/`bn` there and `0`/`1`
here; a layer scale is `mixer.gamma` there and the residual's `gamma` here.
"""

from __future__ import annotations

import re

from ...errors import UserError

__all__ = ["from_timm"]

_STEM = {"conv1": "0", "conv2": "2", "conv3": "4"}
_CONV_NORM = {"c": "0", "bn": "1"}
_BLOCK = re.compile(r"stages\.(\d+)\.blocks\.(\d+)\.(.*)")


def _kind(rest: str) -> str | None:
    """conv, cpe, shma or ffn, from a name under one timm block (None: a layer scale, which
    any of them may have)."""
    if rest == "mixer.gamma":
        return None
    if rest.startswith("cpe."):
        return "cpe"
    if re.match(r"mixer\.module\.(q|k|v_gate|proj)\.", rest):
        return "shma"
    if rest.startswith("mixer.module.3.") or rest.startswith("mixer.module.1."):
        return "conv"
    return "ffn"


def _conv_norm(rest: str) -> str:
    """`c.weight` -> `0.weight`, `bn.running_mean` -> `1.running_mean`."""
    part, _, tail = rest.partition(".")
    return f"{_CONV_NORM.get(part, part)}.{tail}"


def _blocks(state: dict) -> dict[tuple[int, int], str]:
    kinds: dict[tuple[int, int], set[str]] = {}
    for name in state:
        match = _BLOCK.fullmatch(name)
        if match and (kind := _kind(match.group(3))):
            kinds.setdefault((int(match.group(1)), int(match.group(2))), set()).add(kind)
    return {key: ("conv" if "conv" in found else found.pop()) for key, found in kinds.items()}


def _targets(state: dict) -> dict[tuple[int, int], str]:
    """timm (stage, block) -> our module path, walking each stage in order."""
    targets = {}
    kinds = _blocks(state)
    for stage in sorted({s for s, _ in kinds}):
        ours = 1 if stage else 0  # our stages 2-4 start with the downsampling conv
        for block in sorted(b for s, b in kinds if s == stage):
            kind = kinds[(stage, block)]
            base = f"stages.{stage}.{ours}"
            targets[(stage, block)] = {"conv": base, "cpe": f"{base}.0", "shma": f"{base}.1",
                                       "ffn": f"{base}.2"}[kind]
            if kind in ("conv", "ffn"):
                ours += 1
    return targets


def _rename(name: str, targets: dict) -> str:
    if name.startswith("stem."):
        _, conv, rest = name.split(".", 2)
        return f"stem.{_STEM.get(conv, conv)}.{_conv_norm(rest)}"
    down = re.fullmatch(r"stages\.(\d+)\.downsample\.(.*)", name)
    if down:
        return f"stages.{down.group(1)}.0.{_conv_norm(down.group(2))}"
    if name.startswith("head.head."):
        rest = name[len("head.head."):]
        return {"bn": "head.2", "l": "head.3"}.get(rest.split(".")[0], "head.?") + \
            rest[rest.index("."):]
    match = _BLOCK.fullmatch(name)
    if not match:
        return name
    target, rest = targets[(int(match.group(1)), int(match.group(2)))], match.group(3)
    if rest == "mixer.gamma":
        return f"{target}.gamma"
    if rest.startswith("cpe.module."):
        return f"{target}.branch.{_conv_norm(rest[len('cpe.module.'):])}"
    rest = rest[len("mixer.module."):] if rest.startswith("mixer.module.") else rest
    layer, _, tail = rest.partition(".")
    return f"{target}.branch.{layer}.{_conv_norm(tail)}"


def from_timm(state: dict, model) -> tuple[dict, str] | None:
    """`state` in our names if it is in timm's naming; None otherwise."""
    if not any(k.startswith("stem.conv1.") or _BLOCK.fullmatch(k) for k in state):
        return None
    if any(k.startswith("head.head_dist.") for k in state):
        raise UserError("a distilled iFormer checkpoint (it has head_dist.*, the distillation "
                        "head): use timm's iformer_*_distilled, or drop the head_dist.* tensors "
                        "to load its main head")
    targets = _targets(state)
    return {_rename(k, targets): v for k, v in state.items()}, "timm iFormer names"
