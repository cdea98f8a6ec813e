"""A family defined only in the tests: proof that a new family plugs into cost, check and
search through its `Family` object alone, naming no file outside tests/."""

from __future__ import annotations

from dataclasses import dataclass

from mfsearch.families import Family

from .cost import PILLARS, analyze
from .space import TinySpace
from .spec import NAME, TinySpec


@dataclass(frozen=True)
class TinyFamily(Family):
    @property
    def spec_type(self) -> type:
        return TinySpec

    @property
    def space_type(self) -> type:
        return TinySpace

    def analyze(self, spec, resolution: int):
        return analyze(spec, resolution)

    def build_model(self, spec, resolution: int):
        from .model import TinyNet

        return TinyNet(spec)


FAMILY = TinyFamily(name=NAME, title="TinyNet", package=__name__, pillars=PILLARS,
                    head_only=frozenset({"head", "num_classes"}))
