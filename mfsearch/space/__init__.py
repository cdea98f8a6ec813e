"""Search spaces: YAML files of choices that sample into specs. Each family defines its space
type (`Family.space_type`); this package loads space files and holds the building blocks the
space types share. The shipped space files live in `mfsearch/spaces/`."""

from .choices import SpaceError
from .load import DEFAULT_SPACE, load_space, random_specs, shipped_space, shipped_spaces

__all__ = ["DEFAULT_SPACE", "SpaceError", "load_space", "random_specs", "shipped_space",
           "shipped_spaces"]
