"""The MobileNetV3 search space: a width multiplier and, per stage, output channels, depth,
kernel (3 or 5), expansion and squeeze-excite on or off; samples into a `MobileNetV3Spec`.
Every choice made larger costs more, so the smallest and largest reachable costs come from two
specs, as in the other families' spaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...space.choices import (SpaceError, check_keys, choices, fixed_fields, int_range,
                              spec_from_space, suggest)
from .spec import ACTIVATIONS, KINDS, MobileNetV3Spec

_STAGE_KEYS = ("kind", "stride", "act", "out", "depth", "kernel", "expand", "se")


def _numbers(path: str, value: Any) -> tuple[float, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0
                        for v in items):
        raise SpaceError(f"{path}: choices must be positive numbers, got {value!r}")
    return tuple(sorted(set(items)))


def _flags(path: str, value: Any) -> tuple[bool, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or any(not isinstance(v, bool) for v in items):
        raise SpaceError(f"{path}: choices must be true or false, got {value!r}")
    return tuple(sorted(set(items)))


@dataclass(frozen=True)
class StageChoices:
    kind: str
    stride: int
    act: str
    out: tuple[int, ...]
    depth: tuple[int, ...]
    kernel: tuple[int, ...]
    expand: tuple[float, ...]
    se: tuple[bool, ...]

    @classmethod
    def from_dict(cls, data: Any, path: str) -> StageChoices:
        if not isinstance(data, dict):
            raise SpaceError(f"{path}: expected a mapping")
        for key in data:
            if key not in _STAGE_KEYS:
                raise SpaceError(f"{path}.{key}: unknown key (allowed: {', '.join(_STAGE_KEYS)})")
        for key in ("out", "stride"):
            if key not in data:
                raise SpaceError(f"{path}.{key}: missing required key")
        kind = data.get("kind", "ir")
        if kind not in KINDS or data.get("act", "hard_swish") not in ACTIVATIONS:
            raise SpaceError(f"{path}: kind must be one of {', '.join(KINDS)} and act one of "
                             f"{', '.join(ACTIVATIONS)}")
        return cls(kind=kind, stride=choices(f"{path}.stride", data["stride"])[0],
                   act=data.get("act", "hard_swish"), out=choices(f"{path}.out", data["out"]),
                   depth=int_range(f"{path}.depth", data.get("depth", 1)),
                   kernel=choices(f"{path}.kernel", data.get("kernel", 3)),
                   expand=_numbers(f"{path}.expand", data.get("expand", 1)),
                   se=_flags(f"{path}.se", data.get("se", False)))


@dataclass(frozen=True)
class MobileNetV3Space:
    name: str
    fixed: dict
    width: tuple[float, ...]
    stages: tuple[StageChoices, ...]
    family = "mobilenetv3"

    @classmethod
    def from_dict(cls, data: dict, name: str) -> MobileNetV3Space:
        check_keys(data, {"family", "fixed", "width", "stages"}, ("stages",))
        fixed = fixed_fields(data, {"name", "stages", "width", "family"})
        stages = data["stages"]
        if not isinstance(stages, list) or not stages:
            raise SpaceError("stages: expected a list of stages")
        space = cls(name=name, fixed=fixed, width=_numbers("width", data.get("width", 1.0)),
                    stages=tuple(StageChoices.from_dict(s, f"stages[{i}]")
                                 for i, s in enumerate(stages)))
        space.extreme(smallest=True)  # builds a spec: fixed fields and choices are validated
        space.extreme(smallest=False)
        return space

    def sample(self, trial) -> MobileNetV3Spec:
        picked = [{key: suggest(trial, f"s{i + 1}_{key}", getattr(st, key))
                   for key in ("out", "depth", "kernel", "expand", "se")}
                  for i, st in enumerate(self.stages)]
        return self.build(suggest(trial, "width", self.width), picked, f"trial-{trial.number}")

    def build(self, width: float, picked: list[dict], name: str) -> MobileNetV3Spec:
        stages = [[{"kind": st.kind, "kernel": p["kernel"], "stride": st.stride,
                    "out": p["out"], **({"expand": p["expand"]} if st.kind == "ir" else {}),
                    "se": p["se"], "act": st.act, "repeat": p["depth"]}]
                  for st, p in zip(self.stages, picked)]
        return spec_from_space(MobileNetV3Spec, {"name": name, "stages": stages,
                                                 "width": width, **self.fixed})

    def extreme(self, smallest: bool) -> MobileNetV3Spec:
        pick = min if smallest else max
        picked = [{key: pick(getattr(st, key)) for key in ("out", "depth", "kernel", "expand",
                                                             "se")} for st in self.stages]
        return self.build(pick(self.width), picked, "smallest" if smallest else "largest")
