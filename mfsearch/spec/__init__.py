"""Architecture specs: the single source of truth for models and cost formulas. Each family
defines its spec type (`mfsearch.families`); this package holds what they share: field
validators, geometry, and YAML loading, saving and `--set` overrides."""

from .fields import SpecError
from .io import (apply_overrides, load_model_spec, load_spec, save_spec, spec_from_dict,
                 spec_from_yaml, spec_to_yaml, variant_names)

__all__ = [
    "SpecError", "apply_overrides", "load_model_spec", "load_spec", "save_spec",
    "spec_from_dict", "spec_from_yaml", "spec_to_yaml", "variant_names",
]
