"""Load a search space file (any family's: its `family:` key picks the space type), and draw
random specs from one."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from ..families import DEFAULT_FAMILY, all_families
from .choices import SpaceError

SHIPPED_PACKAGE = "mfsearch.spaces"
DEFAULT_SPACE = "mobile_former.yaml"


def load_space(path: str | Path | None = None):
    """A space file, or the default space shipped with mfsearch."""
    if path is None:
        text = resources.files(SHIPPED_PACKAGE).joinpath(DEFAULT_SPACE).read_text()
        name = DEFAULT_SPACE
    else:
        p = Path(path)
        if not p.is_file():
            raise SpaceError(f"--space {p}: no such file")
        text, name = p.read_text(encoding="utf-8"), str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise SpaceError(f"{name}: invalid YAML{where}") from None
    if not isinstance(data, dict):
        raise SpaceError(f"{name}: expected a mapping at the top level")
    try:
        families = all_families()
        family = data.get("family", DEFAULT_FAMILY)
        if family not in families:
            raise SpaceError(f"family: expected one of {', '.join(families)}, got {family!r}")
        return families[family].space_type.from_dict(data, name)
    except SpaceError as exc:
        raise SpaceError(f"{name}: {exc}") from None


def random_specs(space, seed: int, max_tries: int):
    """Distinct random specs of a space (any family), in the order a seeded sampler draws them."""
    import optuna

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    seen = set()
    for _ in range(max_tries):
        trial = study.ask()
        spec = space.sample(trial)
        study.tell(trial, 0.0)
        key = tuple(sorted(trial.params.items()))
        if spec is None or key in seen:
            continue
        seen.add(key)
        yield spec
