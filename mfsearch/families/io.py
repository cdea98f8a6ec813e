"""Load and save specs as YAML, find the shipped variants, and apply `--set KEY=VALUE` overrides."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError
from ..spec.fields import SpecError, field_names
from .registry import DEFAULT_FAMILY, all_families, analyze, get_family


def _variants() -> dict:
    """Every registered family's shipped variants: name -> YAML resource."""
    found = {}
    for family in all_families().values():
        found.update(family.variant_files())
    return found


def variant_names(family: str | None = DEFAULT_FAMILY) -> list[str]:
    """Shipped variants of one family (all families with None), family by family, smallest
    MAdds first."""
    families = list(all_families().values()) if family is None else [get_family(family)]
    names = []
    for f in families:
        names += sorted(f.variant_files(), key=lambda n: analyze(_shipped(n)).madds("core"))
    return names


def _shipped(name: str):
    return spec_from_yaml(_variants()[name].read_text(encoding="utf-8"), name)


def _parse_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{origin}: invalid YAML{where}: {problem}") from None


def spec_from_dict(data: Any):
    """A spec of the family its `family` key names (the default family when absent). It
    states every architecture field, or names a shipped variant (or spec file) as its `base`
    and gives only what differs: a field left out without a base is an error, not a default."""
    if isinstance(data, dict) and "base" in data:
        data = _on_base(data)
    family = data.get("family", DEFAULT_FAMILY) if isinstance(data, dict) else DEFAULT_FAMILY
    try:
        family = get_family(family)
    except UserError as exc:
        raise SpecError(str(exc)) from None
    if isinstance(data, dict):
        data = {**data, "family": family.name}
    spec = family.spec_type.from_dict(data)  # its own errors first: they say more
    missing = sorted(field_names(family.spec_type) - set(data) - {"description"})
    if missing:
        raise SpecError(f"missing {', '.join(missing)}: a spec states every field, or names a "
                        "base (base: mobile-former-151m) and gives only what differs")
    return spec


def _on_base(data: dict) -> dict:
    """The base's fields, then the spec's own (a list, such as blocks, replaces the base's)."""
    base = data["base"]
    if not isinstance(base, str) or not base.strip():
        raise SpecError(f"base: expected a variant name or spec file, got {base!r}")
    try:
        merged = load_model_spec(base).to_dict()
    except UserError as exc:
        raise SpecError(f"base: {exc}") from None
    if "family" in data and data["family"] != merged.get("family", DEFAULT_FAMILY):
        raise SpecError(f"family: {data['family']!r} differs from base {base}'s "
                        f"{merged.get('family', DEFAULT_FAMILY)!r}")
    merged.pop("description", None)
    merged.update({k: v for k, v in data.items() if k != "base"})
    return merged


def spec_from_yaml(text: str, origin: str = "spec"):
    data = _parse_yaml(text, origin)
    try:
        return spec_from_dict(data)
    except SpecError as exc:
        raise SpecError(f"{origin}: {exc}") from None


def load_spec(path: str | Path):
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such spec file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read spec ({exc.__class__.__name__})") from None
    return spec_from_yaml(text, str(path))


def spec_to_yaml(spec) -> str:
    class _Dumper(yaml.SafeDumper):
        pass

    def _block_flow(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
        flat = ("out" in data or "width" in data) and all(not isinstance(v, (dict, list)) for v in data.values())
        return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flat)

    _Dumper.add_representer(dict, _block_flow)
    return yaml.dump(spec.to_dict(), Dumper=_Dumper, sort_keys=False, width=100)


def save_spec(spec, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(spec_to_yaml(spec), encoding="utf-8")
    return path


def _spellings(model: str) -> list[str]:
    """The full variant names `model` may stand for: itself, with a family's prefix, or
    with a plot label's short prefix (`MF-294M`) spelled out."""
    key = model.strip().lower().replace("_", "-")
    families = list(all_families().values())
    candidates = [key, *(f.variant_prefix + key for f in families)]
    for f in families:
        short = f.display.short_prefix.lower()
        if short and key.startswith(short):
            candidates.append(f.variant_prefix + key[len(short):])
    return candidates


def variant_name(model: str) -> str | None:
    """The shipped variant a name means: `mobile-former-294m`, `294m`, timm-style
    `mobile_former_294m`, the plots' `MF-294M`, `iformer_t`; None if it names none."""
    names = _variants()
    return next((c for c in _spellings(model) if c in names), None)


def load_model_spec(model: str):
    """A shipped variant by name (see `variant_name`) or a spec file path."""
    name = variant_name(model)
    if name is not None:
        return _shipped(name)
    if model.endswith((".yaml", ".yml")) or Path(model).exists():
        return load_spec(model)
    close = [m for c in _spellings(model)
             for m in difflib.get_close_matches(c, list(_variants()), n=1, cutoff=0.8)]
    hint = f"did you mean {close[0]}? " if close else ""
    raise UserError(f"unknown model {model!r}: {hint}expected a spec file or one of "
                    f"{', '.join(variant_names(None))}")


def named_overrides(spec, items: list[str], fields: dict[str, Any] | None = None):
    """`--set` items (then top-level `fields`, as the Python API takes them) applied, with the
    changes in the spec's name so tables and JSON say what was changed
    ("mobile-former-294m [tokens=1]")."""
    fields = fields or {}
    if not items and not fields:
        return spec
    changed = apply_values(spec, [parse_override(item) for item in items]
                           + [([key], value) for key, value in fields.items()])
    labels = [i.strip() for i in items] + [f"{k}={v}" for k, v in fields.items()]
    return changed.replace(name=f"{spec.name} [{', '.join(labels)}]")


def parse_override(item: str) -> tuple[list[str | int], Any]:
    """`blocks.3.out=64` -> (['blocks', 3, 'out'], 64). Values are parsed as YAML scalars."""
    if "=" not in item:
        raise UserError(f"--set {item!r}: expected KEY=VALUE")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise UserError(f"--set {item!r}: empty key")
    path: list[str | int] = [int(p) if p.isdigit() else p for p in key.split(".")]
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise UserError(f"--set {key}: cannot parse value {raw!r}") from None
    if isinstance(value, (dict, list)):
        raise UserError(f"--set {key}: expected a single value, got {raw!r}")
    return path, value


def apply_overrides(spec, items: list[str]):
    """Apply `--set KEY=VALUE` overrides to a spec; each key path must already exist in the
    spec (a nested block or stage may gain a key that has a default)."""
    return apply_values(spec, [parse_override(item) for item in items])


def apply_values(spec, changes: list[tuple[list[str | int], Any]]):
    """Set each (key path, value) in a copy of the spec, validated like `--set`."""
    if not changes:
        return spec
    data = spec.to_dict()
    for path, value in changes:
        node: Any = data
        label = ""
        for i, part in enumerate(path):
            label = f"{label}.{part}" if label else str(part)
            last = i == len(path) - 1
            if isinstance(node, list):
                if not isinstance(part, int) or not 0 <= part < len(node):
                    raise UserError(f"--set {label}: no such list index (have {len(node)} items)")
            elif isinstance(node, dict):
                # Nested mappings (a block, a stage) may omit keys that have defaults; the
                # spec's own validation names any key it does not know.
                if part not in node and not (last and node is not data):
                    raise UserError(f"--set {label}: unknown key")
            else:
                raise UserError(f"--set {label}: {label.rsplit('.', 1)[0]} is not a mapping")
            if last:
                node[part] = value
            else:
                node = node[part]
    try:
        return type(spec).from_dict(data)
    except SpecError as exc:
        raise SpecError(f"--set: {exc}") from None
