"""Architecture families: the registry (`register`, `family_of`; built-ins found by module
name, others registered or installed as `mfsearch.families` entry points) and what needs it:
specs read from YAML by their `family:` key, the shipped variants by name, `--set` overrides.
The rest of mfsearch asks a spec's family through `family_of` and never names one."""

from __future__ import annotations

from ..spec.fields import SpecError
from .base import Family, Presentation
from .io import (apply_overrides, apply_values, load_model_spec, load_spec, named_overrides,
                 save_spec, spec_from_dict, spec_from_yaml, spec_to_yaml, variant_name,
                 variant_names)
from .registry import (BUILTIN, DEFAULT_FAMILY, ENTRY_POINT_GROUP, all_families, analyze,
                       build_model, build_trainable, family_of, get_family, register, unregister)

__all__ = ["BUILTIN", "DEFAULT_FAMILY", "ENTRY_POINT_GROUP", "Family", "Presentation",
           "SpecError", "all_families", "analyze", "apply_overrides", "apply_values",
           "build_model", "build_trainable", "counted_model", "family_of", "get_family",
           "load_model_spec", "load_spec", "named_overrides", "register", "save_spec",
           "spec_from_dict", "spec_from_yaml", "spec_to_yaml", "unregister", "variant_name",
           "variant_names"]


def counted_model(spec, resolution=224, backbone: bool = False, weights=None):
    """The torch model whose fvcore count and parameters the analytic cost describes (with the
    checkpoint `weights` loaded, if given)."""
    model = build_model(spec, resolution)
    if weights is not None:
        from ..models.checkpoint import load_weights
        load_weights(model, weights, family_of(spec).import_weights)
    if backbone:
        from ..models.features import Backbone
        model = Backbone(model)
    if family_of(spec).folded:
        from ..models.fold import fold_batchnorm
        model = fold_batchnorm(model)
    return model
