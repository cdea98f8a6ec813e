"""Architecture specs: the single source of truth for models and cost formulas."""

from .io import (apply_overrides, load_model_spec, load_spec, save_spec, spec_from_yaml,
                 spec_to_yaml, variant_names)
from .layout import Layout, resolve
from .mobile_former import BlockSpec, BneckLiteSpec, MobileFormerSpec, SpecError

__all__ = [
    "BlockSpec", "BneckLiteSpec", "Layout", "MobileFormerSpec", "SpecError", "apply_overrides",
    "load_model_spec", "load_spec", "resolve", "save_spec", "spec_from_yaml", "spec_to_yaml",
    "variant_names",
]
