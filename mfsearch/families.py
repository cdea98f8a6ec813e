"""The architecture families mfsearch covers, and dispatch from a spec to its cost model, torch
model and pillars. Adding a family means a spec class, a cost module and a model module, plus
one entry here."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from . import pillars as P
from .errors import UserError


@dataclass(frozen=True)
class Family:
    name: str  # the `family:` key of spec and space files
    title: str
    pillars: tuple[str, ...]
    module: str  # spec/, cost/ and models/ each hold a module of this name
    spec_class: str
    variant_prefix: str  # shipped variants are `<prefix><size>.yaml`
    folded: bool  # its costs describe the BN-folded network (the torch model is folded to check)

    def spec_type(self) -> type:
        return getattr(import_module(f"mfsearch.spec.{self.module}"), self.spec_class)

    def analyze(self, spec, resolution: int):
        return import_module(f"mfsearch.cost.{self.module}").analyze(spec, resolution)

    def build_model(self, spec, resolution: int):
        return import_module(f"mfsearch.models.{self.module}").build_model(spec, resolution)


FAMILIES = {
    "mobile-former": Family("mobile-former", "Mobile-Former", P.PILLARS, "mobile_former",
                            "MobileFormerSpec", "mobile-former-", folded=False),
    "iformer": Family("iformer", "iFormer", P.IFORMER_PILLARS, "iformer", "IFormerSpec",
                      "iformer-", folded=True),
}
DEFAULT_FAMILY = "mobile-former"


def get_family(name: Any) -> Family:
    if name not in FAMILIES:
        raise UserError(f"family: expected one of {', '.join(FAMILIES)}, got {name!r}")
    return FAMILIES[name]


def family_of(spec) -> Family:
    return FAMILIES[spec.family]


def analyze(spec, resolution: int = 224):
    """Per-part, per-pillar cost of any family's spec."""
    return family_of(spec).analyze(spec, resolution)


def build_model(spec, resolution: int = 224):
    """The torch model of any family's spec (BatchNorms unfolded, ready to train)."""
    return family_of(spec).build_model(spec, resolution)


def counted_model(spec, resolution: int = 224):
    """The torch model whose fvcore count and parameters the analytic cost describes."""
    model = build_model(spec, resolution)
    if family_of(spec).folded:
        from .models.fold import fold_batchnorm
        model = fold_batchnorm(model)
    return model
