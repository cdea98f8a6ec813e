"""A family defined only in the tests: proof that a new family plugs into cost, check and
search through its `Family` object alone, naming no file outside tests/."""

from mfsearch.families import Family, Presentation

from .cost import PILLARS, analyze
from .space import TinySpace
from .spec import NAME, TinySpec

FAMILY = Family(name=NAME, display=Presentation(title="TinyNet"), package=__name__,
                spec_type=TinySpec,
                space_type=TinySpace, cost=analyze, model=f"{__name__}.model:build_model",
                pillars=PILLARS, head_only=frozenset({"head", "num_classes"}))
