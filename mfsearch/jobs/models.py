"""Jobs on one model: its spec, cost, torch model, weights and fvcore check. `plan_cost` and
`plan_check` turn what a user gives into checked inputs (the command line calls them too);
`cost` and `check` run them. Heavy dependencies (torch, fvcore) load only where needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import defaults
from ..cost.counts import CONVENTIONS, DEFAULT_CONVENTION, ModelCost
from ..errors import UserError
from ..families import analyze, load_model_spec, named_overrides
from ..spec.geometry import check_resolution


def load_spec(model: Any, overrides: list[str] | None = None, **fields: Any):
    """A spec: a shipped variant's name (`"294m"`, `"iformer-t"`), a spec YAML path, or a spec
    object; then `overrides` (`"blocks.3.out=64"`, as `--set` takes them) and top-level
    `fields` (`tokens=1`)."""
    if isinstance(model, (str, Path)):
        spec = load_model_spec(str(model))
    elif hasattr(model, "to_dict") and hasattr(model, "family"):
        spec = model
    else:
        raise UserError(f"expected a variant name, a spec file or a spec, got {model!r}")
    return named_overrides(spec, list(overrides or ()), fields)


@dataclass(frozen=True)
class Cost:
    """An analytic cost in one convention: `params`, `madds`, `pillars` ({name: {"params",
    "madds"}}), `blocks` (one dict per part); `to_dict()` is `mfsearch cost --format json`."""

    analysis: ModelCost
    convention: str

    @property
    def params(self) -> int:
        return self.analysis.params

    @property
    def madds(self) -> int:
        return self.analysis.madds(self.convention)

    @property
    def pillars(self) -> dict[str, dict[str, int]]:
        return self.to_dict()["pillars"]

    @property
    def blocks(self) -> list[dict]:
        return self.to_dict()["blocks"]

    def to_dict(self) -> dict:
        return self.analysis.to_dict(self.convention)

    def to_frame(self):
        """One row per pillar and per part (pandas), as `mfsearch cost --format csv`."""
        from ..cost.frame import cost_frame

        return cost_frame(self.analysis, self.convention)


@dataclass(frozen=True)
class CostJob:
    """An analytic cost to compute: the spec, its input, the convention, backbone or not."""

    spec: Any
    resolution: Any
    convention: str
    backbone: bool

    def run(self) -> Cost:
        return Cost(analyze(self.spec, self.resolution, self.backbone), self.convention)


def plan_cost(model: Any, resolution: Any = defaults.RESOLUTION,
              convention: str = DEFAULT_CONVENTION, overrides: list[str] | None = None,
              backbone: bool = False, **fields: Any) -> CostJob:
    if convention not in CONVENTIONS:
        raise UserError(f"unknown convention {convention!r}: expected one of "
                        f"{', '.join(CONVENTIONS)}")
    return CostJob(load_spec(model, overrides, **fields), check_resolution(resolution),
                   convention, backbone)


def cost(model: Any, resolution: Any = defaults.RESOLUTION,
         convention: str = DEFAULT_CONVENTION, overrides: list[str] | None = None,
         backbone: bool = False, **fields: Any) -> Cost:
    """Params and MAdds per pillar and per block, from the closed-form cost model; `resolution`
    is a side (224) or height x width ((800, 1333) or "800x1333"); `backbone` leaves out what
    only the classifier head uses."""
    return plan_cost(model, resolution, convention, overrides, backbone, **fields).run()


def build_model(model: Any, resolution: Any = 224, overrides: list[str] | None = None,
                **fields: Any):
    """The torch model (BatchNorms unfolded, random initialisation, ready to train)."""
    from ..families import build_model as build

    return build(load_spec(model, overrides, **fields), check_resolution(resolution))


def load_model(model: Any = None, weights: str | Path | None = None, resolution: Any = 224,
               features_only: bool = False, strides: tuple[int, ...] | None = None,
               overrides: list[str] | None = None, **fields: Any):
    """The torch model with a checkpoint's weights, in eval mode. `weights`: an official
    Mobile-Former checkpoint, a timm iFormer or MobileNetV3 state dict, or our own `save_model`
    file (then `model` may be omitted: the file names its spec). `features_only`: the detection
    backbone, returning the maps at `strides` (8, 16, 32 by default) with their `.channels`."""
    from ..families import build_model as build, family_of
    from ..models.checkpoint import load_weights, read_checkpoint

    if model is None:
        if weights is None:
            raise UserError("load_model: name a model, or give weights saved by save_model")
        recorded = read_checkpoint(weights).spec
        if recorded is None:
            raise UserError(f"{weights}: records no spec (only files save_model writes do); "
                            "name the model too")
        from ..families import spec_from_dict

        model = spec_from_dict(recorded)
    spec = load_spec(model, overrides, **fields)
    net = build(spec, check_resolution(resolution))
    if weights is not None:
        load_weights(net, weights, family_of(spec).import_weights)
    net.eval()
    if features_only:
        from ..models.features import DEFAULT_STRIDES, Backbone

        net = Backbone(net, strides or DEFAULT_STRIDES)
    return net


def save_model(model, path: str | Path) -> Path:
    """Write `model`'s weights and spec (safetensors; `load_model(weights=path)` reads it)."""
    from ..models.checkpoint import save_weights

    return save_weights(getattr(model, "body", model), path)


@dataclass(frozen=True)
class CheckJob:
    """An fvcore cross-check to run: the spec, its input, backbone or not, the weights."""

    spec: Any
    resolution: Any
    backbone: bool
    weights: str | None

    def run(self):
        from ..cost.check import check_spec

        return check_spec(self.spec, self.resolution, self.backbone, self.weights)


def plan_check(model: Any, resolution: Any = defaults.RESOLUTION,
               overrides: list[str] | None = None, backbone: bool = False,
               weights: str | Path | None = None, **fields: Any) -> CheckJob:
    return CheckJob(load_spec(model, overrides, **fields), check_resolution(resolution),
                    backbone, None if weights is None else str(weights))


def check(model: Any, resolution: Any = defaults.RESOLUTION,
          overrides: list[str] | None = None, backbone: bool = False,
          weights: str | Path | None = None, **fields: Any):
    """Analytic cost against fvcore's count of the torch model (`.ok`, `.to_dict()`)."""
    return plan_check(model, resolution, overrides, backbone, weights, **fields).run()


@dataclass(frozen=True)
class ExportJob:
    """An export to run: the model, its weights and input, the engine's format, the file."""

    spec: Any
    weights: str | None
    resolution: Any
    backbone: bool
    format: str
    out: Path
    batch: int

    def run(self):
        """Export, then compare with torch in the engine's runtime (`.ok`, `.summary()`)."""
        from ..deploy import engine_for_format, export_model

        model = load_model(self.spec, self.weights, self.resolution,
                           features_only=self.backbone)
        name = f"{self.spec.name} backbone" if self.backbone else self.spec.name
        return export_model(model, engine_for_format(self.format), self.out, self.resolution,
                            self.batch, name)


def plan_export(model: Any, format: str, out: str | Path, weights: str | Path | None = None,
                resolution: Any = defaults.RESOLUTION, backbone: bool = False,
                batch: int = defaults.LATENCY_BATCH, overrides: list[str] | None = None,
                **fields: Any) -> ExportJob:
    from ..deploy import engine_for_format

    engine_for_format(format)  # an unknown format fails before any work
    return ExportJob(load_spec(model, overrides, **fields),
                     None if weights is None else str(weights), check_resolution(resolution),
                     backbone, format, Path(out), batch)


def export(model: Any, format: str, out: str | Path, **inputs: Any):
    """`mfsearch export MODEL --format onnx|executorch --out FILE` as a call."""
    return plan_export(model, format, out, **inputs).run()
