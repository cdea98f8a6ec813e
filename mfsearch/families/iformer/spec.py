"""The iFormer architecture spec (Zheng, ICLR 2025): a ConvNeXt-derived conv network whose late
stages swap conv blocks for single-head modulation attention (SHMA) blocks.

Each stage lists how many blocks of each kind it has, in the official order: `conv` ConvNeXt
blocks, then `attn` attention blocks (CPE + SHMA + FFN, each residual), then `conv_after` conv
blocks. The shipped variants iFormer-T/S/M/L/L2/H are spec files like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...spec.fields import (MAX_CLASSES, MAX_RATIO, MAX_WIDTH, SpecBase, SpecError, defaults,
                            family_field, field_names, int_field, mapping_field, name_field,
                            prob_field, scalar_fields)
from ...spec.geometry import Resolution, Size, as_size, check_resolution, conv_out

FAMILY = "iformer"
MAX_STAGE_BLOCKS = 128
STAGES = 4


@dataclass(frozen=True)
class IFormerStage:
    """One stage at a fixed resolution; stages after the first open with a 3x3 s2 conv."""

    width: int
    conv: int = 0
    attn: int = 0
    conv_after: int = 0
    qk_reduce: int = 2  # SHMA query/key width = width / qk_reduce ("hdrr" in the official code)

    @property
    def depth(self) -> int:
        return self.conv + self.attn + self.conv_after

    @property
    def qk_width(self) -> int:
        return self.width // self.qk_reduce

    @classmethod
    def from_dict(cls, data: Any, path: str) -> IFormerStage:
        mapping_field(path, data, {"width", "conv", "attn", "conv_after", "qk_reduce"}, {"width"})
        stage = cls(width=int_field(f"{path}.width", data["width"], 2, MAX_WIDTH),
                    **{k: int_field(f"{path}.{k}", data.get(k, 0), 0, MAX_STAGE_BLOCKS)
                       for k in ("conv", "attn", "conv_after")},
                    qk_reduce=int_field(f"{path}.qk_reduce", data.get("qk_reduce", 2), 1, 64))
        if stage.depth == 0:
            raise SpecError(f"{path}: a stage needs at least one block (conv, attn or "
                            "conv_after)")
        if stage.attn and stage.width % stage.qk_reduce:
            raise SpecError(f"{path}.qk_reduce: width {stage.width} is not divisible by "
                            f"{stage.qk_reduce}")
        return stage

    def to_dict(self) -> dict:
        d = {"width": self.width}
        d.update({k: getattr(self, k) for k in ("conv", "attn", "conv_after") if getattr(self, k)})
        if self.attn:
            d["qk_reduce"] = self.qk_reduce
        return d


@dataclass(frozen=True)
class IFormerSpec(SpecBase):
    """A whole iFormer. Defaults follow the official code (`models/iformer.py`)."""

    name: str
    stages: tuple[IFormerStage, ...]
    conv_ratio: int = 4  # ConvNeXt block hidden width = conv_ratio x width
    ffn_ratio: int = 3  # attention block FFN hidden width = ffn_ratio x width
    conv_kernel: int = 7  # depthwise kernel of the conv blocks
    cpe_kernel: int = 3  # depthwise kernel of the conditional positional encoding
    stem_kernel: int = 5  # both stride-2 convs of the FusedIB stem
    stem_expand: int = 4  # FusedIB expansion of the stem's second conv (of width[0] / 2)
    num_classes: int = 1000
    # Initial value of the learned per-channel scale on each conv, SHMA and FFN branch before
    # its residual add (iFormer-H: 1e-6); 0 builds none. It trains, and folds into the
    # branch's last conv for inference.
    layer_scale: float = 0.0
    description: str = field(default="", compare=False)

    family = FAMILY

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(s.width for s in self.stages)

    @property
    def last_width(self) -> int:
        return self.stages[-1].width

    @property
    def depth(self) -> int:
        """Blocks in all stages (an attention block counts once, not as its three parts)."""
        return sum(s.depth for s in self.stages)

    @classmethod
    def from_dict(cls, data: Any) -> IFormerSpec:
        mapping_field("", data, field_names(cls), {"name", "stages"})
        family_field(data, FAMILY)
        name = name_field(data)
        stages = data["stages"]
        if not isinstance(stages, list) or len(stages) != STAGES:
            raise SpecError(f"stages: expected a list of {STAGES} stages (strides 4, 8, 16, 32), "
                            f"got {stages!r}")
        get = defaults(cls, data)
        spec = cls(
            name=name, description=str(get("description") or ""),
            stages=tuple(IFormerStage.from_dict(s, f"stages[{i}]") for i, s in enumerate(stages)),
            conv_ratio=int_field("conv_ratio", get("conv_ratio"), 1, MAX_RATIO),
            ffn_ratio=int_field("ffn_ratio", get("ffn_ratio"), 1, MAX_RATIO),
            conv_kernel=int_field("conv_kernel", get("conv_kernel"), 1, 15),
            cpe_kernel=int_field("cpe_kernel", get("cpe_kernel"), 1, 15),
            stem_kernel=int_field("stem_kernel", get("stem_kernel"), 1, 15),
            stem_expand=int_field("stem_expand", get("stem_expand"), 1, MAX_RATIO),
            num_classes=int_field("num_classes", get("num_classes"), 1, MAX_CLASSES),
            layer_scale=prob_field("layer_scale", get("layer_scale")))
        for key in ("conv_kernel", "cpe_kernel", "stem_kernel"):
            if getattr(spec, key) % 2 == 0:
                raise SpecError(f"{key}: must be odd (same padding), got {getattr(spec, key)}")
        return spec

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"family": FAMILY, "name": self.name}
        if self.description:
            out["description"] = self.description
        out["stages"] = [s.to_dict() for s in self.stages]
        out.update(scalar_fields(self, {*out, "description"}))
        return out

    def feature_sizes(self, resolution: Resolution) -> tuple[Size, tuple[Size, ...]]:
        """Size of the stem's first feature map and of each stage's maps at `resolution`; the
        torch model and the cost model both read them from here."""
        first = conv_out(as_size(check_resolution(resolution)), self.stem_kernel, 2)
        sizes = [conv_out(first, self.stem_kernel, 2)]
        for _ in self.stages[1:]:
            sizes.append(conv_out(sizes[-1], 3, 2))
        return first, tuple(sizes)
