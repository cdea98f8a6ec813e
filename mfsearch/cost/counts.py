"""Cost tallies and the counting conventions that turn them into MAdds.

A tally keeps every ingredient separately (core multiply-adds, BatchNorm/LayerNorm/pool/DyReLU
elements), so one analysis answers all conventions and each table can say which one it used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import UserError
from ..spec.geometry import Resolution, size_label

CONVENTIONS = {
    "paper": "conv + linear + matmul multiply-adds, plus 1 op per BatchNorm output element and 1 "
             "op per DyReLU output element (reproduces the paper's MAdds)",
    "core": "conv + linear + matmul multiply-adds only",
    "fvcore": "what fvcore's default handles count: core + 2 per BatchNorm element + 5 per "
              "LayerNorm element + 1 per avg-pool input element",
}
DEFAULT_CONVENTION = "paper"


@dataclass(slots=True)
class Counts:
    """Parameters and per-image operation ingredients of some part of a network."""

    params: int = 0
    core: int = 0  # conv + linear + matmul multiply-accumulates
    bn: int = 0  # BatchNorm output elements
    ln: int = 0  # LayerNorm output elements
    pool: int = 0  # adaptive average-pool input elements
    dyrelu: int = 0  # DyReLU output elements (2 mul + 1 max each, elementwise)

    def __add__(self, other: Counts) -> Counts:
        # Spelled out: this is the cost model's inner loop.
        return Counts(self.params + other.params, self.core + other.core, self.bn + other.bn,
                      self.ln + other.ln, self.pool + other.pool, self.dyrelu + other.dyrelu)

    @property
    def ops(self) -> int:
        """Every counted ingredient together: zero for a part that computes nothing."""
        return self.core + self.bn + self.ln + self.pool + self.dyrelu

    def madds(self, convention: str = DEFAULT_CONVENTION) -> int:
        if convention == "core":
            return self.core
        if convention == "fvcore":
            return self.core + 2 * self.bn + 5 * self.ln + self.pool
        if convention == "paper":
            return self.core + self.bn + self.dyrelu
        raise UserError(f"unknown convention {convention!r}")


def total(parts) -> Counts:
    out = Counts()
    for part in parts:
        out = out + part
    return out


@dataclass
class PartCost:
    """Cost of one structural part (stem, a block, the head...) split by pillar."""

    name: str
    kind: str
    pillars: dict[str, Counts]
    info: dict

    @property
    def counts(self) -> Counts:
        return total(self.pillars.values())


@dataclass
class ModelCost:
    model: str
    resolution: Resolution
    parts: list[PartCost]
    pillar_names: tuple[str, ...]  # the family's pillars, in display order
    family: str
    backbone: bool = False  # the classifier's head parts are left out

    def without(self, head_parts: frozenset[str]) -> ModelCost:
        """The detection backbone's cost: every part but those only the classifier uses."""
        return replace(self, parts=[p for p in self.parts if p.name not in head_parts],
                       backbone=True)

    def pillar(self, name: str) -> Counts:
        return total(p.pillars.get(name, Counts()) for p in self.parts)

    @property
    def pillars(self) -> dict[str, Counts]:
        return {name: self.pillar(name) for name in self.pillar_names}

    @property
    def counts(self) -> Counts:
        return total(p.counts for p in self.parts)

    @property
    def params(self) -> int:
        return self.counts.params

    def madds(self, convention: str = DEFAULT_CONVENTION) -> int:
        return self.counts.madds(convention)

    def to_dict(self, convention: str = DEFAULT_CONVENTION) -> dict:
        return {
            "model": self.model,
            "family": self.family,
            "resolution": size_label(self.resolution),
            "backbone": self.backbone,
            "convention": convention,
            "params": self.params,
            "madds": self.madds(convention),
            "pillars": {n: {"params": c.params, "madds": c.madds(convention)}
                        for n, c in self.pillars.items()},
            "blocks": [
                {"name": p.name, "kind": p.kind, **p.info, "params": p.counts.params,
                 "madds": p.counts.madds(convention),
                 "pillars": {n: {"params": c.params, "madds": c.madds(convention)}
                             for n, c in p.pillars.items()}}
                for p in self.parts
            ],
        }


def part_info(cin: int, cout: int, stride: int, res_in: Resolution, res_out: Resolution,
              hidden: tuple[int, ...] = ()) -> dict:
    """A part's geometry as cost tables, JSON and latency keys show it (a square map by its
    side, others as "HxW")."""
    return {"cin": cin, "cout": cout, "stride": stride, "res_in": size_label(res_in),
            "res_out": size_label(res_out), "hidden": list(hidden)}
