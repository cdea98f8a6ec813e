"""The Python API: one call per job, the same numbers and the same `UserError` messages as the
command line. Heavy dependencies (torch, fvcore, Optuna) load only in the calls that need them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cost.counts import DEFAULT_CONVENTION, ModelCost
from .errors import UserError
from .families import analyze
from .search.rungs import DEFAULT_TRIALS
from .spec import load_model_spec
from .spec.geometry import check_resolution
from .spec.io import named_overrides


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
        from .cost.frame import cost_frame

        return cost_frame(self.analysis, self.convention)


def cost(model: Any, resolution: Any = 224, convention: str = DEFAULT_CONVENTION,
         overrides: list[str] | None = None, backbone: bool = False, **fields: Any) -> Cost:
    """Params and MAdds per pillar and per block, from the closed-form cost model; `resolution`
    is a side (224) or height x width ((800, 1333) or "800x1333"); `backbone` leaves out what
    only the classifier head uses."""
    from .cost.counts import CONVENTIONS

    if convention not in CONVENTIONS:
        raise UserError(f"unknown convention {convention!r}: expected one of "
                        f"{', '.join(CONVENTIONS)}")
    spec = load_spec(model, overrides, **fields)
    return Cost(analyze(spec, check_resolution(resolution), backbone), convention)


def build_model(model: Any, resolution: Any = 224, overrides: list[str] | None = None,
                **fields: Any):
    """The torch model (BatchNorms unfolded, random initialisation, ready to train)."""
    from .families import build_model as build

    return build(load_spec(model, overrides, **fields), check_resolution(resolution))


def load_model(model: Any = None, weights: str | Path | None = None, resolution: Any = 224,
               features_only: bool = False, strides: tuple[int, ...] | None = None,
               overrides: list[str] | None = None, **fields: Any):
    """The torch model with a checkpoint's weights, in eval mode. `weights`: an official
    Mobile-Former checkpoint, a timm iFormer or MobileNetV3 state dict, or our own `save_model`
    file (then `model` may be omitted: the file names its spec). `features_only`: the detection
    backbone, returning the maps at `strides` (8, 16, 32 by default) with their `.channels`."""
    from .families import build_model as build, family_of
    from .models.checkpoint import load_weights, read_checkpoint

    if model is None:
        if weights is None:
            raise UserError("load_model: name a model, or give weights saved by save_model")
        recorded = read_checkpoint(weights).spec
        if recorded is None:
            raise UserError(f"{weights}: records no spec (only files save_model writes do); "
                            "name the model too")
        from .spec.io import spec_from_dict

        model = spec_from_dict(recorded)
    spec = load_spec(model, overrides, **fields)
    net = build(spec, check_resolution(resolution))
    if weights is not None:
        load_weights(net, weights, family_of(spec).import_weights)
    net.eval()
    if features_only:
        from .models.features import DEFAULT_STRIDES, Backbone

        net = Backbone(net, strides or DEFAULT_STRIDES)
    return net


def save_model(model, path: str | Path) -> Path:
    """Write `model`'s weights and spec (safetensors; `load_model(weights=path)` reads it)."""
    from .models.checkpoint import save_weights

    return save_weights(getattr(model, "body", model), path)


def check(model: Any, resolution: Any = 224, overrides: list[str] | None = None,
          backbone: bool = False, weights: str | Path | None = None, **fields: Any):
    """Analytic cost against fvcore's count of the torch model (`.ok`, `.to_dict()`)."""
    from .cost.check import check_spec

    return check_spec(load_spec(model, overrides, **fields), check_resolution(resolution),
                      backbone, weights)


def search(budget: str | int = "150M", *, space: str | Path | None = None,
           trials: int = DEFAULT_TRIALS,
           out: str | Path | None = None, data: str | Path | None = None,
           tolerance: float = 0.1, convention: str = DEFAULT_CONVENTION, resolution: int = 224,
           objectives: str = "acc", sampler: str = "tpe", seed: int = 0,
           proxy: dict | None = None, pruner: str = "sha", eta: int = 3, finalists: int = 3,
           confirm_seeds: int = 2, control: str | None = None, on_event=None,
           devices: str | list[str] | None = None, per_device: int | None = None,
           precision: str = "fp32", deterministic: bool = False, graphs: bool = True):
    """`mfsearch budget` as a call: search `space` (a file; the shipped Mobile-Former space by
    default) under a MAdds `budget` ("150M", or an int), ranking by the short proxy
    (`proxy`: ProxyConfig fields, e.g. {"steps": 20}) with successive halving (`pruner`,
    `eta`), then retrain the top `finalists` and the `control` with `confirm_seeds` further
    seeds; outputs go to `out` (default runs/<timestamp>). `devices` ("cuda:0,cuda:1", or a
    list) trains `per_device` candidates at once on each; `precision`, `deterministic` and
    `graphs` set CUDA trainings as `--precision`, `--deterministic` and `--no-graphs` do.
    Returns a `mfsearch.search.SearchResult` (`.confirmation` holds the stage)."""
    import datetime

    from . import data as datasets
    from .proxy.config import ProxyConfig
    from .proxy.device import check_devices, on_devices
    from .proxy.options import DeviceOptions
    from .search.budget import parse_budget
    from .search.run import run_search
    from .search.study import Band, SearchSettings, parse_objectives
    from .space import load_space

    madds = budget if isinstance(budget, int) else parse_budget(str(budget))
    try:
        cfg = ProxyConfig(**{"seed": seed, **(proxy or {})}).check()
    except TypeError as exc:
        raise UserError(f"proxy: {exc}") from None
    if devices:
        devices = check_devices(devices.split(",") if isinstance(devices, str) else devices)
        cfg = on_devices(cfg, devices)
    settings = SearchSettings(space=load_space(space), trials=trials, proxy=cfg,
                              band=Band(madds, tolerance, convention,
                                        check_resolution(resolution)),
                              objectives=parse_objectives(objectives), sampler=sampler,
                              seed=seed, pruner=pruner, eta=eta, finalists=finalists,
                              confirm_seeds=confirm_seeds, control=control,
                              devices=devices or (),
                              per_device=per_device,
                              cuda=DeviceOptions(graphs, precision, deterministic).check())
    out = Path(out) if out else Path("runs") / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return run_search(settings, datasets.load(data, seed=seed, load_size=cfg.resolution), out,
                      on_event,
                      command=f"mfsearch.search({budget!r}, trials={trials})")
