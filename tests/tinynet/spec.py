"""Spec of the test-only family: a plain MobileNetV2-like CNN (stem, inverted residual blocks,
head conv, pooled classifier)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from mfsearch.spec.fields import (MAX_WIDTH, SpecBase, SpecError, defaults, family_field,
                                  field_names, int_field, mapping_field, name_field)

NAME = "tinynet"


@dataclass(frozen=True)
class TinyBlock:
    out: int
    stride: int = 1
    expand: int = 4

    @classmethod
    def from_dict(cls, data: Any, path: str) -> TinyBlock:
        mapping_field(path, data, {"out", "stride", "expand"}, {"out"})
        return cls(out=int_field(f"{path}.out", data["out"], 1, MAX_WIDTH),
                   stride=int_field(f"{path}.stride", data.get("stride", 1), 1, 2),
                   expand=int_field(f"{path}.expand", data.get("expand", 4), 1, 8))


@dataclass(frozen=True)
class TinySpec(SpecBase):
    name: str
    stem: int
    blocks: tuple[TinyBlock, ...]
    head: int
    num_classes: int = 10
    family = NAME

    @classmethod
    def from_dict(cls, data: Any) -> TinySpec:
        mapping_field("", data, field_names(cls), {"name", "stem", "blocks", "head"})
        family_field(data, NAME)
        if not isinstance(data["blocks"], list) or not data["blocks"]:
            raise SpecError("blocks: expected a non-empty list")
        get = defaults(cls, data)
        return cls(name=name_field(data), stem=int_field("stem", data["stem"], 1, MAX_WIDTH),
                   blocks=tuple(TinyBlock.from_dict(b, f"blocks[{i}]")
                                for i, b in enumerate(data["blocks"])),
                   head=int_field("head", data["head"], 1, MAX_WIDTH),
                   num_classes=int_field("num_classes", get("num_classes"), 1, 1000))

    def to_dict(self) -> dict:
        return {"family": NAME, "name": self.name, "stem": self.stem,
                "blocks": [dataclasses.asdict(b) for b in self.blocks], "head": self.head,
                "num_classes": self.num_classes}
