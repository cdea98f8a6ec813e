"""Search spaces: a YAML file of choices that samples into a MobileFormerSpec.

The sampler is any Optuna trial (define-by-run), so TPE, NSGA-II or random search all work on
the same space. MAdds grow monotonically with every choice, which gives the smallest and
largest reachable cost without enumerating the space.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import optuna
import yaml

from ..errors import UserError
from ..spec.mobile_former import MobileFormerSpec, SpecError

WIDTH_MULTIPLE = 8
DEFAULT_SPACE = "mobile_former.yaml"


class SpaceError(UserError):
    pass


def _choices(path: str, value: Any, multiple: int = 1) -> tuple[int, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SpaceError(f"{path}: empty list of choices")
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SpaceError(f"{path}: choices must be positive integers, got {v!r}")
        if v % multiple:
            raise SpaceError(f"{path}: {v} is not a multiple of {multiple}")
    return tuple(sorted(set(items)))


def _range(path: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, dict):
        unknown = set(value) - {"low", "high", "step"}
        if unknown:
            raise SpaceError(f"{path}.{sorted(unknown)[0]}: unknown key (allowed: low, high, step)")
        try:
            low, high, step = int(value["low"]), int(value["high"]), int(value.get("step", 1))
        except (KeyError, TypeError, ValueError):
            raise SpaceError(f"{path}: expected {{low: int, high: int, step: int}}, got {value!r}") from None
        if not 1 <= low <= high or step < 1:
            raise SpaceError(f"{path}: need 1 <= low <= high and step >= 1, got {value!r}")
        return tuple(range(low, high + 1, step))
    return _choices(path, value)


def suggest(trial, name: str, choices: tuple[int, ...]) -> int:
    """A searched choice; a single choice is fixed and not a parameter of the study."""
    return choices[0] if len(choices) == 1 else trial.suggest_categorical(name, list(choices))


def spec_from_space(spec_type, data: dict):
    """A spec the space built; an invalid one is the space's fault, reported as such."""
    try:
        return spec_type.from_dict(data)
    except SpecError as exc:
        raise SpaceError(f"the space produces an invalid spec: {exc}") from None


def check_keys(data: Any, allowed: set[str], required: tuple[str, ...]) -> None:
    if not isinstance(data, dict):
        raise SpaceError("expected a mapping at the top level")
    for key in data:
        if key not in allowed:
            raise SpaceError(f"{key}: unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in required:
        if key not in data:
            raise SpaceError(f"{key}: missing required key")


def fixed_fields(data: dict, searched: set[str]) -> dict:
    """The space's `fixed` spec fields, which must not be fields the space searches."""
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, dict) or searched & set(fixed):
        raise SpaceError(f"fixed: must be a mapping of spec fields that are not searched "
                         f"(not {', '.join(sorted(searched & set(fixed))) or fixed!r})")
    return dict(fixed)


def extreme_widths(choices: list[tuple[int, ...]], smallest: bool) -> list[int]:
    """The narrowest (or widest) per-stage widths that still grow across stages."""
    widths: list[int] = []
    stages = choices if smallest else list(reversed(choices))
    for options in stages:
        if smallest:
            ok = [w for w in options if not widths or w >= widths[-1]]
        else:
            ok = [w for w in options if not widths or w <= widths[0]]
        if not ok:
            raise SpaceError("stages: no choice of widths grows across stages")
        if smallest:
            widths.append(min(ok))
        else:
            widths.insert(0, max(ok))
    return widths


def random_specs(space, seed: int, max_tries: int):
    """Distinct random specs of a space (any family), in the order a seeded sampler draws them."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    seen = set()
    for _ in range(max_tries):
        trial = study.ask()
        spec = space.sample(trial)
        study.tell(trial, 0.0)
        key = tuple(sorted(trial.params.items()))
        if spec is None or key in seen:
            continue
        seen.add(key)
        yield spec


@dataclass(frozen=True)
class Stage:
    stride: int
    out: tuple[int, ...]
    depth: tuple[int, ...]
    expand: tuple[int, ...]


@dataclass(frozen=True)
class SearchSpace:
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
    def from_dict(cls, data: Any, name: str) -> SearchSpace:
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
            parsed.append(Stage(stride, _choices(f"{path}.out", st.get("out"), WIDTH_MULTIPLE),
                                _choices(f"{path}.depth", st.get("depth", 1)),
                                _choices(f"{path}.expand", st.get("expand", 6))))
        bl = data.get("bneck_lite") or {}
        if not isinstance(bl, dict) or set(bl) - {"expand", "stride"}:
            raise SpaceError("bneck_lite: expected {expand: ..., stride: ...}")
        space = cls(
            name=name, fixed=fixed,
            head_expand=_choices("head_expand", data.get("head_expand", 6))[0],
            stem=_choices("stem", data["stem"], WIDTH_MULTIPLE),
            bneck_expand=_choices("bneck_lite.expand", bl.get("expand", 2)),
            bneck_stride=_choices("bneck_lite.stride", bl.get("stride", 1)),
            down_expand=_choices("down_expand", data.get("down_expand", 6))[0],
            down_expand2=_choices("down_expand2", data.get("down_expand2", 4))[0],
            stages=tuple(parsed), tokens=_range("tokens", data["tokens"]),
            token_dim=_range("token_dim", data["token_dim"]), fc1=_choices("fc1", data["fc1"]))
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
        if any(b < a for a, b in zip(widths, widths[1:])):
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


def load_space(path: str | Path | None = None) -> SearchSpace:
    """A space file, or the default space shipped with mfsearch."""
    if path is None:
        text, name = resources.files("mfsearch.spaces").joinpath(DEFAULT_SPACE).read_text(), \
            DEFAULT_SPACE
    else:
        p = Path(path)
        if not p.is_file():
            raise SpaceError(f"--space {p}: no such file")
        text, name = p.read_text(encoding="utf-8"), str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SpaceError(f"{name}: invalid YAML{where}") from None
    if not isinstance(data, dict):
        raise SpaceError(f"{name}: expected a mapping at the top level")
    try:
        family = data.get("family", "mobile-former")
        if family == "iformer":
            from .iformer_space import IFormerSpace
            return IFormerSpace.from_dict(data, name)
        if family != "mobile-former":
            raise SpaceError(f"family: expected mobile-former or iformer, got {family!r}")
        return SearchSpace.from_dict(data, name)
    except SpaceError as exc:
        raise SpaceError(f"{name}: {exc}") from None
