"""Published ImageNet results of efficient models (shipped as package data) for comparison plots."""

from __future__ import annotations

from importlib import resources

import pandas as pd

from ..errors import UserError
from ..families import DEFAULT_FAMILY, get_family

DEFAULT_FAMILIES = ("Mobile-Former", "MobileNetV2", "MobileNetV3", "EfficientNet", "ShuffleNetV2",
                    "GhostNet", "MobileViT", "EfficientFormer", "iFormer", "FastViT",
                    "MobileNetV4")

def highlight() -> str:
    """The published family plots draw in bold: the default family's."""
    return get_family(DEFAULT_FAMILY).display.title


def load_published(primary_only: bool = True) -> pd.DataFrame:
    """Published results; by default the primary row of each (alternative reports of a model,
    e.g. a latency measured by a later paper, are kept only when asked for)."""
    path = resources.files("mfsearch.reports.data").joinpath("published_imagenet.csv")
    with resources.as_file(path) as p:
        frame = pd.read_csv(p)
    return primary(frame) if primary_only else frame


def published_by_name() -> dict[str, pd.Series]:
    """Primary published rows by lower-case model name (what `Family.published_name` gives)."""
    return {m.lower(): row for m, row in load_published().set_index("model").iterrows()}


def primary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per published result: the primary report of each model."""
    return frame[frame["role"] == "primary"].reset_index(drop=True)


def pick_families(frame: pd.DataFrame, families: list[str] | None) -> list[str]:
    known = list(dict.fromkeys(frame["family"]))
    if not families:
        return [f for f in DEFAULT_FAMILIES if f in known]
    if families == ["all"]:
        return known
    unknown = [f for f in families if f not in known]
    if unknown:
        raise UserError(f"unknown family {unknown[0]!r}; known: {', '.join(sorted(known))}")
    return families
