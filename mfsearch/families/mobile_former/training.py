"""The paper's training hyper-parameters for a Mobile-Former spec (Table 11, as data)."""

from __future__ import annotations

from importlib import resources

import yaml


def table11(spec) -> dict:
    """{"lr", "weight_decay", "batch"}: the row of `spec`'s variant, or of the variant nearest
    to it in MAdds (a search's pick, a spec file)."""
    from ..registry import analyze
    from ..io import load_model_spec

    table = yaml.safe_load(resources.files(__package__).joinpath("training.yaml").read_text())
    rows = table["variants"]
    name = spec.name if spec.name in rows else min(
        rows, key=lambda v: abs(analyze(load_model_spec(v)).madds("paper")
                                - analyze(spec).madds("paper")))
    return {**rows[name], "batch": table["batch"], "from": name}
