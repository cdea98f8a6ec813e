"""Search space of the test family: stem width and, per stage, width and depth."""

from __future__ import annotations

from dataclasses import dataclass

from mfsearch.space.choices import (SpaceError, check_keys, choices, extreme_widths,
                                    spec_from_space, suggest, widths_grow)

from .spec import NAME, TinySpec


@dataclass(frozen=True)
class TinySpace:
    name: str
    stem: tuple[int, ...]
    widths: tuple[tuple[int, ...], ...]
    depths: tuple[tuple[int, ...], ...]
    family = NAME

    @classmethod
    def from_dict(cls, data: dict, name: str) -> TinySpace:
        check_keys(data, {"family", "stem", "stages"}, ("stem", "stages"))
        stages = data["stages"]
        if not isinstance(stages, list) or not stages:
            raise SpaceError("stages: expected a non-empty list")
        return cls(name=name, stem=choices("stem", data["stem"]),
                   widths=tuple(choices(f"stages[{i}].out", s.get("out"))
                                for i, s in enumerate(stages)),
                   depths=tuple(choices(f"stages[{i}].depth", s.get("depth", 1))
                                for i, s in enumerate(stages)))

    def build(self, stem: int, widths: list[int], depths: list[int], name: str) -> TinySpec:
        blocks = [{"out": w, "stride": 2 if j == 0 else 1}
                  for w, d in zip(widths, depths) for j in range(d)]
        return spec_from_space(TinySpec, {"family": NAME, "name": name, "stem": stem,
                                          "blocks": blocks, "head": 4 * widths[-1]})

    def sample(self, trial) -> TinySpec | None:
        widths = [suggest(trial, f"s{i + 1}_out", w) for i, w in enumerate(self.widths)]
        depths = [suggest(trial, f"s{i + 1}_depth", d) for i, d in enumerate(self.depths)]
        stem = suggest(trial, "stem", self.stem)
        if not widths_grow(widths):
            return None
        return self.build(stem, widths, depths, f"trial-{trial.number}")

    def extreme(self, smallest: bool) -> TinySpec:
        pick = min if smallest else max
        return self.build(pick(self.stem), extreme_widths(list(self.widths), smallest),
                          [pick(d) for d in self.depths], "smallest" if smallest else "largest")
