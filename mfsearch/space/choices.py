"""Building blocks every family's search space is made of: parsing choice lists and ranges from
YAML, fixed fields, widths that grow across stages, and turning a sampled dict into a spec."""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from ..spec.fields import SpecError

WIDTH_MULTIPLE = 8


class SpaceError(UserError):
    """An invalid search space; the message names the key path and the bad value."""


def choices(path: str, value: Any, multiple: int = 1) -> tuple[int, ...]:
    """Sorted distinct positive integers (one value or a list), each a multiple of `multiple`."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SpaceError(f"{path}: empty list of choices")
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SpaceError(f"{path}: choices must be positive integers, got {v!r}")
        if v % multiple:
            raise SpaceError(f"{path}: {v} is not a multiple of {multiple}")
    return tuple(sorted(set(items)))


def int_range(path: str, value: Any) -> tuple[int, ...]:
    """Choices given as a list, one value, or `{low, high, step}`."""
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
    return choices(path, value)


def suggest(trial, name: str, options: tuple[int, ...]) -> int:
    """A searched choice; a single choice is fixed and not a parameter of the study."""
    return options[0] if len(options) == 1 else trial.suggest_categorical(name, list(options))


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


def widths_grow(widths: list[int]) -> bool:
    return all(b >= a for a, b in zip(widths, widths[1:]))


def extreme_widths(options: list[tuple[int, ...]], smallest: bool) -> list[int]:
    """The narrowest (or widest) per-stage widths that still grow across stages."""
    widths: list[int] = []
    stages = options if smallest else list(reversed(options))
    for stage in stages:
        if smallest:
            ok = [w for w in stage if not widths or w >= widths[-1]]
        else:
            ok = [w for w in stage if not widths or w <= widths[0]]
        if not ok:
            raise SpaceError("stages: no choice of widths grows across stages")
        if smallest:
            widths.append(min(ok))
        else:
            widths.insert(0, max(ok))
    return widths
