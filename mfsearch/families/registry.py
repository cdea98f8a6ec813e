"""The registry of architecture families: built-in families are found by module name, others
register themselves (`register(family)`) or are installed as `mfsearch.families` entry points."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from ..errors import UserError
from .base import Family

# Modules whose `FAMILY` is a built-in family, in display order.
BUILTIN = ("mfsearch.families.mobile_former", "mfsearch.families.iformer",
           "mfsearch.families.mobilenetv3")
# The family of a spec or space file without a `family:` key.
DEFAULT_FAMILY = "mobile-former"
ENTRY_POINT_GROUP = "mfsearch.families"

_registry: dict[str, Family] = {}
_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    found = [import_module(m).FAMILY for m in BUILTIN]
    found += [ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)]
    for family in found:
        _registry.setdefault(family.name, family)


def register(family: Family) -> Family:
    """Make `family` known to every command and API call of this process."""
    if not isinstance(family, Family):
        raise TypeError(f"expected a mfsearch.families.Family, got {type(family).__name__}")
    _load()
    _registry[family.name] = family
    return family


def unregister(name: str) -> None:
    _load()
    _registry.pop(name, None)


def all_families() -> dict[str, Family]:
    """Registered families by name, built-ins first."""
    _load()
    return dict(_registry)


def get_family(name: Any) -> Family:
    families = all_families()
    if isinstance(name, str) and name.lower() in families:
        return families[name.lower()]
    raise UserError(f"family: expected one of {', '.join(families)}, got {name!r}")


def family_of(spec) -> Family:
    return get_family(spec.family)


def analyze(spec, resolution=224, backbone: bool = False):
    """Per-part, per-pillar cost of any family's spec (of its detection backbone if asked)."""
    return family_of(spec).analyze(spec, resolution, backbone)


def build_trainable(spec, resolution=224):
    """The torch model a training from scratch starts from (the family's training
    initialisation applied)."""
    return family_of(spec).build_trainable(spec, resolution)


def build_model(spec, resolution=224, features_only: bool = False,
                strides: tuple[int, ...] | None = None):
    """The torch model of any family's spec (BatchNorms unfolded, ready to train), or its
    detection backbone with `features_only`."""
    return family_of(spec).build_model(spec, resolution, features_only, strides)
