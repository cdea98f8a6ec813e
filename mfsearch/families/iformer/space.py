"""The iFormer search space: per-stage widths and block counts, conv and FFN ratios; samples into
an `IFormerSpec`. As in the Mobile-Former space, every choice makes a network costlier, so the
smallest and largest reachable costs come from two specs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...space.choices import (WIDTH_MULTIPLE, SpaceError, check_keys, choices, extreme_widths,
                               fixed_fields, int_range, spec_from_space, suggest, widths_grow)
from .spec import STAGES, IFormerSpec

_STAGE_KEYS = ("width", "conv", "attn", "conv_after", "qk_reduce")
_COUNTS = ("conv", "attn", "conv_after")


def _counts(path: str, value: Any) -> tuple[int, ...]:
    """Block-count choices; unlike widths, 0 is allowed (a stage without that kind)."""
    items = value if isinstance(value, (list, dict)) else [value]
    if isinstance(items, list) and 0 in items and not isinstance(items[0], bool):
        rest = [v for v in items if v != 0]
        return (0, *(choices(path, rest) if rest else ()))
    return int_range(path, items)


@dataclass(frozen=True)
class IFormerStageChoices:
    width: tuple[int, ...]
    conv: tuple[int, ...]
    attn: tuple[int, ...]
    conv_after: tuple[int, ...]
    qk_reduce: int


@dataclass(frozen=True)
class IFormerSpace:
    name: str
    fixed: dict
    conv_ratio: tuple[int, ...]
    ffn_ratio: tuple[int, ...]
    stages: tuple[IFormerStageChoices, ...]
    family = "iformer"

    @classmethod
    def from_dict(cls, data: dict, name: str) -> IFormerSpace:
        check_keys(data, {"family", "fixed", "conv_ratio", "ffn_ratio", "stages"}, ("stages",))
        fixed = fixed_fields(data, {"name", "stages", "conv_ratio", "ffn_ratio", "family"})
        stages = data["stages"]
        if not isinstance(stages, list) or len(stages) != STAGES:
            raise SpaceError(f"stages: expected a list of {STAGES} stages")
        parsed = []
        for i, st in enumerate(stages):
            path = f"stages[{i}]"
            if not isinstance(st, dict):
                raise SpaceError(f"{path}: expected a mapping")
            for key in st:
                if key not in _STAGE_KEYS:
                    raise SpaceError(f"{path}.{key}: unknown key (allowed: "
                                     f"{', '.join(_STAGE_KEYS)})")
            if "width" not in st:
                raise SpaceError(f"{path}.width: missing required key")
            parsed.append(IFormerStageChoices(
                width=choices(f"{path}.width", st["width"], WIDTH_MULTIPLE),
                **{k: _counts(f"{path}.{k}", st.get(k, 0)) for k in _COUNTS},
                qk_reduce=choices(f"{path}.qk_reduce", st.get("qk_reduce", 2))[0]))
        for i, st in enumerate(parsed):
            bad = [w for w in st.width if w % st.qk_reduce] if max(st.attn) else []
            if bad:
                raise SpaceError(f"stages[{i}].width: {bad[0]} is not divisible by qk_reduce "
                                 f"{st.qk_reduce}")
        space = cls(name=name, fixed=fixed,
                    conv_ratio=choices("conv_ratio", data.get("conv_ratio", 4)),
                    ffn_ratio=choices("ffn_ratio", data.get("ffn_ratio", 3)),
                    stages=tuple(parsed))
        space.extreme(smallest=True)  # builds a spec: fixed fields and widths are validated
        space.extreme(smallest=False)
        return space

    def sample(self, trial) -> IFormerSpec | None:
        """A spec from an Optuna trial, or None when widths shrink across stages."""
        stages = []
        for i, st in enumerate(self.stages):
            stages.append({"width": suggest(trial, f"s{i + 1}_width", st.width),
                           **{k: suggest(trial, f"s{i + 1}_{k}", getattr(st, k))
                              for k in _COUNTS}, "qk_reduce": st.qk_reduce})
        widths = [s["width"] for s in stages]
        if not widths_grow(widths):
            return None
        if any(s["conv"] + s["attn"] + s["conv_after"] == 0 for s in stages):
            return None
        return self.build(stages, suggest(trial, "conv_ratio", self.conv_ratio),
                          suggest(trial, "ffn_ratio", self.ffn_ratio), f"trial-{trial.number}")

    def build(self, stages: list[dict], conv_ratio: int, ffn_ratio: int,
              name: str) -> IFormerSpec:
        data = {"name": name, "stages": stages, "conv_ratio": conv_ratio, "ffn_ratio": ffn_ratio,
                **self.fixed}
        return spec_from_space(IFormerSpec, data)

    def extreme(self, smallest: bool) -> IFormerSpec:
        pick = min if smallest else max
        widths = extreme_widths([st.width for st in self.stages], smallest)
        stages = []
        for st, w in zip(self.stages, widths):
            counts = {k: pick(getattr(st, k)) for k in _COUNTS}
            if sum(counts.values()) == 0:  # a stage needs a block: the fewest of the first kind
                kind = next((k for k in _COUNTS if max(getattr(st, k))), None)
                if kind is None:
                    raise SpaceError(f"stages[{len(stages)}]: every block count is 0")
                counts[kind] = min(v for v in getattr(st, kind) if v)
            stages.append({"width": w, **counts, "qk_reduce": st.qk_reduce})
        return self.build(stages, pick(self.conv_ratio), pick(self.ffn_ratio),
                          "smallest" if smallest else "largest")
