"""The analytic cost against fvcore's count of the torch model it describes, pillar by pillar,
in the two conventions fvcore can count: equal everywhere, or the spec has a bug somewhere."""

from __future__ import annotations

from dataclasses import dataclass

from ..families import analyze, counted_model
from ..spec.geometry import Resolution, size_label

CHECKED_CONVENTIONS = ("core", "fvcore")


@dataclass(frozen=True)
class ConventionCheck:
    convention: str
    pillars: dict[str, tuple[int, int]]  # pillar -> (analytic, fvcore)
    total: tuple[int, int]
    unattributed: int  # fvcore MAdds outside every pillar

    @property
    def ok(self) -> bool:
        return (self.unattributed == 0 and self.total[0] == self.total[1]
                and all(a == b for a, b in self.pillars.values()))


@dataclass(frozen=True)
class CheckResult:
    model: str
    resolution: Resolution
    params: tuple[int, int]  # (analytic, torch)
    conventions: tuple[ConventionCheck, ...]
    backbone: bool = False

    @property
    def ok(self) -> bool:
        return self.params[0] == self.params[1] and all(c.ok for c in self.conventions)

    def to_dict(self) -> dict:
        return {"model": self.model, "resolution": size_label(self.resolution),
                "backbone": self.backbone, "ok": self.ok,
                "params": {"analytic": self.params[0], "torch": self.params[1]},
                "conventions": {c.convention: {
                    "ok": c.ok, "unattributed": c.unattributed,
                    "total": {"analytic": c.total[0], "fvcore": c.total[1]},
                    "pillars": {k: {"analytic": a, "fvcore": b}
                                for k, (a, b) in c.pillars.items()}}
                    for c in self.conventions}}


def check_spec(spec, resolution: Resolution = 224, backbone: bool = False,
               weights: str | None = None) -> CheckResult:
    """Build the counted model (BN-folded where the family's costs are; the detection backbone
    with `backbone`; with `weights` loaded, which no count depends on but a broken checkpoint
    shows) and compare."""
    from .fvcore_count import count_model

    cost = analyze(spec, resolution, backbone)
    model = counted_model(spec, resolution, backbone, weights)
    checks = []
    for conv in CHECKED_CONVENTIONS:
        counted = count_model(model, resolution, conv)
        checks.append(ConventionCheck(
            convention=conv,
            pillars={name: (cost.pillar(name).madds(conv), counted.pillars[name])
                     for name in cost.pillar_names},
            total=(cost.madds(conv), counted.total), unattributed=counted.unattributed))
    torch_params = sum(p.numel() for p in model.parameters())
    return CheckResult(model=spec.name, resolution=resolution, params=(cost.params, torch_params),
                       conventions=tuple(checks), backbone=backbone)
