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


def shipped_spaces() -> dict[str, str]:
    """Name -> YAML text of the spaces shipped with mfsearch (`mobile_former`, ...)."""
    folder = resources.files(SHIPPED_PACKAGE)
    return {p.name[:-5]: p.read_text(encoding="utf-8") for p in sorted(
        folder.iterdir(), key=lambda p: p.name) if p.name.endswith(".yaml")}


def shipped_space(name: str) -> str | None:
    """A shipped space's text by name (`iformer`, `mobile-former`, `iformer.yaml`), or None."""
    key = name.lower().removesuffix(".yaml").replace("-", "_")
    return shipped_spaces().get(key)


def load_space(path: str | Path | None = None):
    """A space file, a shipped space by name (`mobile_former`, `iformer`), or the default
    space shipped with mfsearch."""
    if path is None:
        text, name = shipped_spaces()[DEFAULT_SPACE[:-5]], DEFAULT_SPACE
    else:
        p = Path(path)
        if p.is_file():
            text, name = p.read_text(encoding="utf-8"), str(p)
        elif (shipped := shipped_space(str(path))) is not None and p.parent == Path("."):
            text, name = shipped, f"{str(path).removesuffix('.yaml')} (shipped)"
        else:
            raise SpaceError(f"--space {p}: no such file; shipped spaces (by name): "
                             f"{', '.join(shipped_spaces())} (`mfsearch spaces` lists them)")
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
