"""The MobileNetV3 architecture spec (Howard et al., ICCV 2019), as timm builds it.

Blocks are listed per stage, as timm's architecture definitions list them: `ds` (depthwise-
separable: dw k x k, optional SE, linear 1x1) or `ir` (inverted residual: 1x1 expand, dw k x k,
optional SE, linear 1x1), each with a kernel, the stride of its first repeat, an expansion,
output channels, SE on or off and its activation. `width` scales every channel count with timm's
rounding (to a multiple of 8, never below 90% of the scaled value); the efficient last stage is
`last_conv` (1x1, scaled) then pooling, the `head` conv-head layer (not scaled) and the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...spec.fields import (MAX_CLASSES, MAX_WIDTH, SpecBase, SpecError, bool_field,
                            choice_field, defaults, family_field, field_names, int_field,
                            mapping_field, name_field, ratio_field, scalar_fields)

FAMILY = "mobilenetv3"
KINDS = ("ds", "ir")
ACTIVATIONS = ("relu", "hard_swish")
MAX_REPEAT = 32
MAX_STAGES = 12


@dataclass(frozen=True)
class BlockRow:
    """`repeat` blocks of one kind; the first has `stride`, the others stride 1."""

    kind: str
    kernel: int
    stride: int
    out: int
    expand: float = 1.0  # ir: hidden width = expand x input channels (rounded); ds: 1
    se: bool = False
    act: str = "hard_swish"
    repeat: int = 1

    @classmethod
    def from_dict(cls, data: Any, path: str) -> BlockRow:
        mapping_field(path, data, {"kind", "kernel", "stride", "out", "expand", "se", "act",
                                   "repeat"}, {"kind", "kernel", "stride", "out"})
        row = cls(kind=choice_field(f"{path}.kind", data["kind"], KINDS),
                  kernel=int_field(f"{path}.kernel", data["kernel"], 1, 15),
                  stride=int_field(f"{path}.stride", data["stride"], 1, 2),
                  out=int_field(f"{path}.out", data["out"], 1, MAX_WIDTH),
                  expand=ratio_field(f"{path}.expand", data.get("expand", 1)),
                  se=bool_field(f"{path}.se", data.get("se", False)),
                  act=choice_field(f"{path}.act", data.get("act", "hard_swish"), ACTIVATIONS),
                  repeat=int_field(f"{path}.repeat", data.get("repeat", 1), 1, MAX_REPEAT))
        if row.kernel % 2 == 0:
            raise SpecError(f"{path}.kernel: must be odd (same padding), got {row.kernel}")
        if row.kind == "ds" and row.expand != 1:
            raise SpecError(f"{path}.expand: a ds block does not expand (got {row.expand})")
        return row

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"kind": self.kind, "kernel": self.kernel, "stride": self.stride,
                             "out": self.out}
        if self.kind == "ir":
            d["expand"] = self.expand
        d.update(se=self.se, act=self.act)
        if self.repeat != 1:
            d["repeat"] = self.repeat
        return d


@dataclass(frozen=True)
class MobileNetV3Spec(SpecBase):
    """A whole MobileNetV3. Defaults follow timm's `_gen_mobilenet_v3`."""

    name: str
    stages: tuple[tuple[BlockRow, ...], ...]
    width: float = 1.0  # channel multiplier (timm's `channel_multiplier`)
    stem: int = 16
    round_stem: bool = True  # false keeps the stem at `stem` (timm: multipliers below 0.75)
    stem_act: str = "hard_swish"
    last_conv: int = 960  # the 1x1 conv after the blocks (scaled by width)
    head: int = 1280  # the conv-head layer after pooling (not scaled)
    se_ratio: float = 0.25  # SE squeeze width = se_ratio x its block's hidden width (rounded)
    num_classes: int = 1000
    description: str = field(default="", compare=False)

    family = FAMILY

    @classmethod
    def from_dict(cls, data: Any) -> MobileNetV3Spec:
        mapping_field("", data, field_names(cls), {"name", "stages"})
        family_field(data, FAMILY)
        name = name_field(data)
        stages = data["stages"]
        if not isinstance(stages, list) or not 1 <= len(stages) <= MAX_STAGES:
            raise SpecError(f"stages: expected a list of 1 to {MAX_STAGES} stages, each a list "
                            f"of blocks, got {stages!r}")
        parsed = []
        for i, stage in enumerate(stages):
            if not isinstance(stage, list) or not stage:
                raise SpecError(f"stages[{i}]: expected a non-empty list of blocks")
            parsed.append(tuple(BlockRow.from_dict(b, f"stages[{i}][{j}]")
                                for j, b in enumerate(stage)))
        get = defaults(cls, data)
        return cls(
            name=name, description=str(get("description") or ""), stages=tuple(parsed),
            width=ratio_field("width", get("width"), 4.0),
            stem=int_field("stem", get("stem"), 1, MAX_WIDTH),
            round_stem=bool_field("round_stem", get("round_stem")),
            stem_act=choice_field("stem_act", get("stem_act"), ACTIVATIONS),
            last_conv=int_field("last_conv", get("last_conv"), 1, MAX_WIDTH),
            head=int_field("head", get("head"), 1, MAX_WIDTH),
            se_ratio=ratio_field("se_ratio", get("se_ratio"), 1.0),
            num_classes=int_field("num_classes", get("num_classes"), 1, MAX_CLASSES))

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"family": FAMILY, "name": self.name}
        if self.description:
            out["description"] = self.description
        out["stages"] = [[b.to_dict() for b in stage] for stage in self.stages]
        out.update(scalar_fields(self, {*out, "description"}))
        return out

    @property
    def depth(self) -> int:
        return sum(b.repeat for stage in self.stages for b in stage)
