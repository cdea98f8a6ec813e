"""What every family's spec shares: field validators (`fields`) and geometry (`geometry`).
Reading specs from YAML needs the family registry, so it lives above it, in
`mfsearch.families` (`load_model_spec`, `spec_from_yaml`, ...)."""

from .fields import SpecError

__all__ = ["SpecError"]
