"""Field validators shared by every spec family: each names the key path and the bad value."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..errors import UserError

# Upper bounds keep adversarial specs from exhausting memory; they sit far above any mobile model.
MAX_WIDTH = 8192
MAX_RATIO = 16
MAX_CLASSES = 100_000


class SpecError(UserError):
    """An invalid spec; the message names the key path and the offending value."""


def int_field(path: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise SpecError(f"{path}: expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise SpecError(f"{path}: must be between {lo} and {hi}, got {value}")
    return value


def ratio_field(path: str, value: Any, hi: float = MAX_RATIO) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"{path}: expected a number, got {value!r}")
    if not 0 < value <= hi:
        raise SpecError(f"{path}: must be > 0 and <= {hi}, got {value}")
    return int(value) if float(value).is_integer() else float(value)


def bool_field(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{path}: expected true or false, got {value!r}")
    return value


def choice_field(path: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SpecError(f"{path}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def prob_field(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise SpecError(f"{path}: expected a number in [0, 1), got {value!r}")
    return float(value)


def mapping_field(path: str, data: Any, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(data, dict):
        raise SpecError(f"{path or 'spec'}: expected a mapping, got {type(data).__name__}")
    prefix = f"{path}." if path else ""
    for key in data:
        if key not in allowed:
            shown = key if isinstance(key, str) and key.isprintable() else repr(key)
            raise SpecError(f"{prefix}{shown}: unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in data:
            raise SpecError(f"{prefix}{key}: missing required key")
    return data


def name_field(data: dict) -> str:
    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise SpecError(f"name: expected a non-empty string, got {name!r}")
    return name


def family_field(data: dict, family: str) -> None:
    if data.get("family", family) != family:
        raise SpecError(f"family: expected {family}, got {data['family']!r}")


def field_names(cls) -> set[str]:
    """Keys a spec dataclass accepts in YAML: its fields and `family`."""
    return {f.name for f in dataclasses.fields(cls)} | {"family"}


def defaults(cls, data: dict):
    """`get(key)`: the YAML value of a field, or the dataclass default when the key is absent."""
    declared = cls.__dataclass_fields__
    return lambda key: data.get(key, declared[key].default)


def scalar_fields(spec, skip: set[str]) -> dict[str, Any]:
    """The spec's remaining fields in declaration order, for `to_dict`."""
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)
            if f.name not in skip}


class SpecBase:
    """What every family's spec dataclass shares: `family` names its family, and `replace`
    goes through `from_dict`, so a changed value is validated like one read from YAML."""

    family: str

    @classmethod
    def from_dict(cls, data: Any):
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    def replace(self, **changes: Any):
        return type(self).from_dict({**self.to_dict(), **changes})
