"""The Mobile-Former search space: a YAML file of per-stage choices that samples into a
MobileFormerSpec.

The sampler is any Optuna trial (define-by-run), so TPE, NSGA-II or random search all work on
the same space. MAdds grow monotonically with every choice, which gives the smallest and
largest reachable cost without enumerating the space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...space.choices import (WIDTH_MULTIPLE, SpaceError, check_keys, choices, extreme_widths,
                               fixed_fields, int_range, spec_from_space, suggest, widths_grow)
from .spec import MobileFormerSpec


@dataclass(frozen=True)
class Stage:
    stride: int
    out: tuple[int, ...]
    depth: tuple[int, ...]
    expand: tuple[int, ...]


@dataclass(frozen=True)
class MobileFormerSpace:
    name: str
    fixed: dict
    head_expand: int
    stem: tuple[int, ...]
    bneck_expand: tuple[int, ...]
    bneck_stride: tuple[int, ...]
    down_expand: int
    down_expand2: int
    stages: tuple[Stage, ...]
    tokens: tuple[int, ...]
    token_dim: tuple[int, ...]
    fc1: tuple[int, ...]
    family = "mobile-former"

    # --- loading ---------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, name: str) -> MobileFormerSpace:
        check_keys(data, {"family", "fixed", "head_expand", "stem", "bneck_lite", "down_expand",
                          "down_expand2", "stages", "tokens", "token_dim", "fc1"},
                   ("stem", "stages", "tokens", "token_dim", "fc1"))
        fixed = fixed_fields(data, {"stem", "bneck_lite", "blocks", "tokens", "token_dim", "fc1",
                                    "head_conv", "name"})
        stages = data["stages"]
        if not isinstance(stages, list) or not stages:
            raise SpaceError("stages: expected a non-empty list")
        parsed = []
        for i, st in enumerate(stages):
            path = f"stages[{i}]"
            if not isinstance(st, dict):
                raise SpaceError(f"{path}: expected a mapping")
            for key in st:
                if key not in ("stride", "out", "depth", "expand"):
                    raise SpaceError(f"{path}.{key}: unknown key")
            stride = st.get("stride", 2)
            if stride not in (1, 2):
                raise SpaceError(f"{path}.stride: must be 1 or 2, got {stride!r}")
            parsed.append(Stage(stride, choices(f"{path}.out", st.get("out"), WIDTH_MULTIPLE),
                                choices(f"{path}.depth", st.get("depth", 1)),
                                choices(f"{path}.expand", st.get("expand", 6))))
        bl = data.get("bneck_lite") or {}
        if not isinstance(bl, dict) or set(bl) - {"expand", "stride"}:
            raise SpaceError("bneck_lite: expected {expand: ..., stride: ...}")
        space = cls(
            name=name, fixed=fixed,
            head_expand=choices("head_expand", data.get("head_expand", 6))[0],
            stem=choices("stem", data["stem"], WIDTH_MULTIPLE),
            bneck_expand=choices("bneck_lite.expand", bl.get("expand", 2)),
            bneck_stride=choices("bneck_lite.stride", bl.get("stride", 1)),
            down_expand=choices("down_expand", data.get("down_expand", 6))[0],
            down_expand2=choices("down_expand2", data.get("down_expand2", 4))[0],
            stages=tuple(parsed), tokens=int_range("tokens", data["tokens"]),
            token_dim=int_range("token_dim", data["token_dim"]), fc1=choices("fc1", data["fc1"]))
        if any(s not in (1, 2) for s in space.bneck_stride):
            raise SpaceError("bneck_lite.stride: choices must be 1 or 2")
        space.extreme(smallest=True)  # builds a spec: fixed fields and widths are validated
        return space

    # --- sampling --------------------------------------------------------------------------
    def sample(self, trial) -> MobileFormerSpec | None:
        """A spec from an Optuna trial, or None when the sampled widths shrink across stages."""
        widths = [suggest(trial, f"s{i + 1}_out", s.out) for i, s in enumerate(self.stages)]
        config = {
            "stem": suggest(trial, "stem", self.stem),
            "bneck_expand": suggest(trial, "bneck_expand", self.bneck_expand),
            "bneck_stride": suggest(trial, "bneck_stride", self.bneck_stride),
            "widths": widths,
            "depths": [suggest(trial, f"s{i + 1}_depth", s.depth)
                       for i, s in enumerate(self.stages)],
            "expands": [suggest(trial, f"s{i + 1}_expand", s.expand)
                        for i, s in enumerate(self.stages)],
            "tokens": suggest(trial, "tokens", self.tokens),
            "token_dim": suggest(trial, "token_dim", self.token_dim),
            "fc1": suggest(trial, "fc1", self.fc1),
        }
        if not widths_grow(widths):
            return None
        return self.build(config, name=f"trial-{trial.number}")

    def build(self, c: dict, name: str) -> MobileFormerSpec:
        blocks = []
        bneck_out = c["widths"][0] if c["bneck_stride"] == 2 else c["stem"]
        for i, (stage, out, depth, expand) in enumerate(
                zip(self.stages, c["widths"], c["depths"], c["expands"])):
            # With a stride-2 bneck-lite the first stage is already at its resolution (52M layout).
            stride = 1 if (i == 0 and c["bneck_stride"] == 2) else stage.stride
            for j in range(depth):
                if j == 0 and stride == 2:
                    blocks.append({"out": out, "stride": 2, "expand": self.down_expand,
                                   "expand2": self.down_expand2})
                else:
                    blocks.append({"out": out, "stride": 1, "expand": expand})
        data = {"name": name, "stem": c["stem"],
                "bneck_lite": {"out": bneck_out, "expand": c["bneck_expand"],
                               "stride": c["bneck_stride"]},
                "blocks": blocks, "tokens": c["tokens"], "token_dim": c["token_dim"],
                "head_conv": self.head_expand * c["widths"][-1], "fc1": c["fc1"], **self.fixed}
        return spec_from_space(MobileFormerSpec, data)

    def extreme(self, smallest: bool) -> MobileFormerSpec:
        """The cheapest (or most expensive) spec of the space: MAdds grow with every choice."""
        pick = min if smallest else max
        widths = extreme_widths([st.out for st in self.stages], smallest)
        config = {"stem": pick(self.stem), "bneck_expand": pick(self.bneck_expand),
                  "bneck_stride": max(self.bneck_stride) if smallest else min(self.bneck_stride),
                  "widths": widths, "depths": [pick(s.depth) for s in self.stages],
                  "expands": [pick(s.expand) for s in self.stages], "tokens": pick(self.tokens),
                  "token_dim": pick(self.token_dim), "fc1": pick(self.fc1)}
        return self.build(config, name="smallest" if smallest else "largest")

