"""A family's shipped variants beside what their paper publishes (`mfsearch variants`)."""

from __future__ import annotations

from ..families import analyze, get_family, load_model_spec, variant_names
from .published import published_by_name


def variant_rows(family: str, resolution: int = 224, convention: str = "paper") -> list[dict]:
    """One dict per shipped variant, smallest first: our params and MAdds, the published ones
    (None where the paper prints none) and our MAdds' difference from them (at 224 only)."""
    fam = get_family(family)
    published = published_by_name()
    rows = []
    for name in variant_names(fam.name):
        spec = load_model_spec(name)
        cost = analyze(spec, resolution)
        paper = published.get(fam.published_name(name))
        madds = cost.madds(convention)
        rows.append({
            "variant": name, "blocks": spec.depth, "params": cost.params, "madds": madds,
            "published_params_M": None if paper is None else float(paper["params_M"]),
            "published_madds_M": None if paper is None else float(paper["madds_M"]),
            "madds_vs_published_pct": (round(100 * (madds / 1e6 / paper["madds_M"] - 1), 2)
                                       if paper is not None and resolution == 224 else None),
            "top1": None if paper is None else float(paper["top1"])})
    return rows
