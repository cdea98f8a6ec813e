"""The Mobile-Former architecture spec: one typed, validated description that drives both the
torch model and the analytic cost model.

A spec is plain data (YAML on disk). Loading checks every key and value and names the bad one,
so a typo in a hand-edited file fails loudly instead of building a different network.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ...spec.fields import (MAX_CLASSES, MAX_RATIO, MAX_WIDTH, SpecBase, SpecError,
                            bool_field as _bool, choice_field as _choice, defaults, family_field,
                            field_names, int_field as _int, mapping_field as _mapping,
                            name_field, prob_field as _prob, ratio_field as _ratio,
                            scalar_fields)

# Upper bounds keep adversarial specs from exhausting memory; they sit far above any mobile model.
MAX_TOKENS = 256
MAX_TOKEN_DIM = 4096
MAX_BLOCKS = 64

ACTIVATIONS = ("dyrelu", "relu")
ATTENTIONS = ("mha", "mlp")


@dataclass(frozen=True)
class BneckLiteSpec:
    """The conv-only first block: dw3x3 with depth multiplier `expand`, then a linear pw."""

    out: int
    expand: int = 2
    stride: int = 1

    @classmethod
    def from_dict(cls, data: Any, path: str = "bneck_lite") -> BneckLiteSpec:
        _mapping(path, data, {"out", "expand", "stride"}, {"out"})
        return cls(
            out=_int(f"{path}.out", data["out"], 1, MAX_WIDTH),
            expand=_int(f"{path}.expand", data.get("expand", 2), 1, MAX_RATIO),
            stride=_int(f"{path}.stride", data.get("stride", 1), 1, 2),
        )


@dataclass(frozen=True)
class BlockSpec:
    """One Mobile-Former block. stride 1: pw-dw-pw with hidden width round(cin * expand).
    stride 2: dw(x expand)-pw-dw(x expand2)-pw with the inner residual of the official code."""

    out: int
    stride: int = 1
    expand: float = 6
    expand2: int = 4

    @property
    def downsample(self) -> bool:
        return self.stride == 2

    @classmethod
    def from_dict(cls, data: Any, path: str) -> BlockSpec:
        _mapping(path, data, {"out", "stride", "expand", "expand2"}, {"out"})
        stride = _int(f"{path}.stride", data.get("stride", 1), 1, 2)
        expand = _ratio(f"{path}.expand", data.get("expand", 6))
        if stride == 2 and not isinstance(expand, int):
            raise SpecError(f"{path}.expand: a downsample block's expand is a depthwise multiplier "
                            f"and must be an integer, got {expand}")
        return cls(
            out=_int(f"{path}.out", data["out"], 1, MAX_WIDTH),
            stride=stride,
            expand=expand,
            expand2=_int(f"{path}.expand2", data.get("expand2", 4), 1, MAX_RATIO),
        )

    def to_dict(self) -> dict:
        d = {"out": self.out, "stride": self.stride, "expand": self.expand}
        if self.downsample:
            d["expand2"] = self.expand2
        return d


@dataclass(frozen=True)
class MobileFormerSpec(SpecBase):
    """A whole Mobile-Former. Defaults follow the official implementation."""

    name: str
    stem: int
    bneck_lite: BneckLiteSpec
    blocks: tuple[BlockSpec, ...]
    head_conv: int
    fc1: int
    tokens: int = 6
    token_dim: int = 192
    bridge_heads: int = 2
    former_heads: int = 4
    ffn_ratio: int = 2
    token_mlp_ratio: int = 4
    dyrelu_reduction: int = 4
    dw_kernel: int = 3
    groups: int = 1
    num_classes: int = 1000
    dropout: float = 0.0
    # Ablation switches used by the paper (Tables 5-9).
    former: bool = True
    activation: str = "dyrelu"
    former_ffn: bool = True
    former_attention: str = "mha"
    description: str = field(default="", compare=False)

    family = "mobile-former"

    # --- serialisation -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any) -> MobileFormerSpec:
        _mapping("", data, field_names(cls),
                 {"name", "stem", "bneck_lite", "blocks", "head_conv", "fc1"})
        family_field(data, cls.family)
        blocks = data["blocks"]
        if not isinstance(blocks, list) or not blocks:
            raise SpecError(f"blocks: expected a non-empty list of blocks, got {blocks!r}")
        if len(blocks) > MAX_BLOCKS:
            raise SpecError(f"blocks: at most {MAX_BLOCKS} blocks, got {len(blocks)}")
        get = defaults(cls, data)
        spec = cls(
            name=name_field(data),
            description=str(get("description") or ""),
            stem=_int("stem", data["stem"], 1, MAX_WIDTH),
            bneck_lite=BneckLiteSpec.from_dict(data["bneck_lite"]),
            blocks=tuple(BlockSpec.from_dict(b, f"blocks[{i}]") for i, b in enumerate(blocks)),
            head_conv=_int("head_conv", data["head_conv"], 1, MAX_WIDTH),
            fc1=_int("fc1", data["fc1"], 1, MAX_WIDTH),
            tokens=_int("tokens", get("tokens"), 1, MAX_TOKENS),
            token_dim=_int("token_dim", get("token_dim"), 1, MAX_TOKEN_DIM),
            bridge_heads=_int("bridge_heads", get("bridge_heads"), 1, 64),
            former_heads=_int("former_heads", get("former_heads"), 1, 64),
            ffn_ratio=_int("ffn_ratio", get("ffn_ratio"), 1, MAX_RATIO),
            token_mlp_ratio=_int("token_mlp_ratio", get("token_mlp_ratio"), 1, MAX_RATIO),
            dyrelu_reduction=_int("dyrelu_reduction", get("dyrelu_reduction"), 1, 64),
            dw_kernel=_int("dw_kernel", get("dw_kernel"), 1, 11),
            groups=_int("groups", get("groups"), 1, 64),
            num_classes=_int("num_classes", get("num_classes"), 1, MAX_CLASSES),
            dropout=_prob("dropout", get("dropout")),
            former=_bool("former", get("former")),
            activation=_choice("activation", get("activation"), ACTIVATIONS),
            former_ffn=_bool("former_ffn", get("former_ffn")),
            former_attention=_choice("former_attention", get("former_attention"), ATTENTIONS),
        )
        spec.validate()
        return spec

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out.update(stem=self.stem,
                   bneck_lite=dataclasses.asdict(self.bneck_lite),
                   blocks=[b.to_dict() for b in self.blocks])
        out.update(scalar_fields(self, {*out, "description"}))
        return out

    # --- cross-field rules -----------------------------------------------------------------
    def validate(self) -> None:
        """Rules that involve several fields: group and head divisibility, switch combinations."""
        g = self.groups
        if self.dw_kernel % 2 == 0:
            raise SpecError(f"dw_kernel: must be odd (same padding), got {self.dw_kernel}")
        if self.activation == "dyrelu" and not self.former:
            raise SpecError("activation: dyrelu needs the Former's token 0 to generate its "
                            "coefficients; use activation=relu with former=false")
        if self.former:
            if self.token_dim % self.former_heads:
                raise SpecError(f"token_dim: {self.token_dim} is not divisible by "
                                f"former_heads={self.former_heads}")
            if self.activation == "dyrelu" and self.token_dim < self.dyrelu_reduction:
                raise SpecError(f"token_dim: {self.token_dim} is smaller than "
                                f"dyrelu_reduction={self.dyrelu_reduction}")

        def need_groups(path: str, width: int) -> None:
            if width % g:
                raise SpecError(f"{path}: width {width} is not divisible by groups={g}")

        def need_heads(path: str, width: int) -> None:
            if self.former and self.former_attention == "mha" and width % self.bridge_heads:
                raise SpecError(f"{path}: width {width} is not divisible by "
                                f"bridge_heads={self.bridge_heads}")

        need_groups("bneck_lite.out", self.bneck_lite.out)
        need_groups("bneck_lite.expand", self.stem * self.bneck_lite.expand)
        cin = self.bneck_lite.out
        for i, b in enumerate(self.blocks):
            path = f"blocks[{i}]"
            need_heads(f"{path} input", cin)
            need_heads(f"{path}.out", b.out)
            need_groups(f"{path}.out", b.out)
            if b.downsample:
                need_groups(f"{path}.expand", cin * int(b.expand))
                need_groups(f"{path}.expand2", b.out * b.expand2)
            else:
                hidden = round(cin * b.expand)
                if hidden < 1:
                    raise SpecError(f"{path}.expand: hidden width round({cin} * {b.expand}) is 0")
                need_groups(f"{path} input", cin)
                need_groups(f"{path}.expand", hidden)
            cin = b.out
        need_groups("head_conv", self.head_conv)

    @property
    def last_width(self) -> int:
        return self.blocks[-1].out

    @property
    def depth(self) -> int:
        return len(self.blocks)
