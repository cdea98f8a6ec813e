"""What the rest of mfsearch knows of an architecture family: one `Family` object (its spec and
space types, cost model, torch model, pillars, variants, how its costs and latency entries are
keyed). Nothing outside a family's package branches on its name."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module, resources
from typing import Any, Callable


def _function(path: str) -> Callable:
    module, function = path.split(":")
    return getattr(import_module(module), function)


@dataclass(frozen=True, eq=False)
class Presentation:
    """How tables and plots show a family: its name, colour and label prefix, which pillars
    they group, and the lines a cost table ends with. Nothing here changes a count."""

    title: str  # how reports and plots name the family
    colour: str = "#7f7f7f"  # its colour in plots that show several families
    short_prefix: str = ""  # plot labels: the variant name with its prefix replaced by this
    # Pillar groups the leaderboard and pillar tables show (group name -> pillars).
    pillar_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # The group whose share of the MAdds reports highlight (the Former and bridge, say), if any.
    share_group: str | None = None
    # How plots spell a group out ("Former + both bridges"); the pillars joined by + otherwise.
    group_titles: dict[str, str] = field(default_factory=dict)
    # Short column headers for long pillar names in narrow tables.
    abbreviations: dict[str, str] = field(default_factory=dict)
    # Lines a cost table ends with beyond the totals: summary(presentation, cost, convention).
    summary_lines: Callable[[Presentation, Any, str], list[str]] | None = None

    def summary(self, cost, convention: str) -> list[str]:
        """What the family's costs mean, in a line or two under a cost table."""
        return self.summary_lines(self, cost, convention) if self.summary_lines else []

    def short_name(self, variant: str, prefix: str) -> str:
        """`variant` with its family `prefix` replaced by the plots' short one (MF-294M)."""
        if self.short_prefix and variant.startswith(prefix):
            return self.short_prefix + variant[len(prefix):].upper()
        return variant

    def group_madds(self, cost, group: str, convention: str) -> int:
        return sum(cost.pillar(p).madds(convention) for p in self.pillar_groups[group])

    def group_title(self, group: str) -> str:
        return self.group_titles.get(group) or " + ".join(self.pillar_groups[group])

    def groups(self, pillars: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
        """The pillar groups to show; every pillar on its own when the family defines none."""
        return self.pillar_groups or {p: (p,) for p in pillars}


@dataclass(frozen=True, eq=False)
class Family:
    """One per family, all data: its types, its cost function, where its torch model is built
    (imported on first use, so that costs need no torch), and how reports show it (`display`)."""

    name: str  # the `family:` key of spec and space files
    package: str  # the family's package; shipped variants are its `variants/*.yaml`
    spec_type: type  # from_dict / to_dict / replace, a `family` attribute
    space_type: type  # from_dict(data, name) / sample(trial) / extreme(smallest)
    cost: Callable  # cost(spec, resolution) -> mfsearch.cost.counts.ModelCost
    model: str  # "module:function"; function(spec, resolution) -> the torch model
    pillars: tuple[str, ...]  # cost pillars in display order (torch modules carry the same tags)
    display: Presentation  # how tables and plots show it
    # Its costs describe the BN-folded network (the torch model is folded to check them).
    folded: bool = False
    # Spec fields no block's latency depends on; and those only the classifier head's does.
    latency_ignored: frozenset[str] = frozenset()
    head_only: frozenset[str] = frozenset()
    # Cost parts only the classifier uses: a detection backbone drops them (and their modules).
    head_parts: frozenset[str] = frozenset()
    # "module:function"; function(state_dict, model) -> (state_dict in our names, what it was),
    # or None when the names are none this family knows (other implementations' checkpoints).
    weights: str | None = None
    # "module:function"; function(model, images) -> {block: {direction: array}} of the
    # cross-attention weights a forward computes (families with a cross-attention bridge).
    attention: str | None = None

    # A baseline family: searches of other families confirm their pick against its shipped
    # variant nearest a MAdds budget (the design the field compares with).
    baseline: bool = False
    # Shipped variant -> its name in the published-results table, where that is not the
    # variant's own name (compared case-insensitively).
    published_names: dict[str, str] = field(default_factory=dict)
    # "module:function"; function(spec) -> {"lr", "weight_decay", "batch", "from"}: its paper's
    # training hyper-parameters at that batch (`mfsearch train` scales them to its own).
    training: str | None = None
    # A training from scratch (the proxy, `mfsearch train`) zero-initialises the classifier
    # (`model.get_classifier()`): the family's own initialisation is sized for 1000 classes
    # and gives a few classes logits too large for a short run to recover from.
    zero_classifier: bool = False

    def build_trainable(self, spec, resolution):
        """The model a training from scratch starts from (BatchNorms unfolded)."""
        model = self.build_model(spec, resolution)
        if self.zero_classifier:
            import torch

            classifier = model.get_classifier()
            torch.nn.init.zeros_(classifier.weight)
            torch.nn.init.zeros_(classifier.bias)
        return model

    def analyze(self, spec, resolution, backbone: bool = False):
        """The analytic cost (`mfsearch.cost.counts.ModelCost`) of `spec` at `resolution` (a side
        or a `Size`), of the detection backbone when `backbone` (the head parts dropped)."""
        cost = self.cost(spec, resolution)
        return cost.without(self.head_parts) if backbone else cost

    def build_model(self, spec, resolution, features_only: bool = False,
                    strides: tuple[int, ...] | None = None):
        """The torch model of `spec` (BatchNorms unfolded, ready to train); with
        `features_only`, the backbone returning the maps at `strides` (8, 16, 32 by default)."""
        model = _function(self.model)(spec, resolution)
        if not features_only:
            return model
        from ..models.features import DEFAULT_STRIDES, Backbone

        return Backbone(model, strides or DEFAULT_STRIDES)

    def import_weights(self, state: dict, model) -> tuple[dict, str] | None:
        """`state` renamed onto `model`'s tensors with the description of its naming, or None
        when this family knows no other naming that fits."""
        return _function(self.weights)(state, model) if self.weights else None

    def training_settings(self, spec) -> dict | None:
        """The family's published training hyper-parameters for `spec`, if it has any."""
        return _function(self.training)(spec) if self.training else None

    def attention_maps(self, model, images):
        return _function(self.attention)(model, images) if self.attention else None

    @property
    def variant_prefix(self) -> str:
        return f"{self.name}-"

    def variant_files(self) -> dict[str, Any]:
        """Shipped variant name -> its YAML resource."""
        folder = resources.files(self.package).joinpath("variants")
        if not folder.is_dir():
            return {}
        return {p.name[:-5]: p for p in folder.iterdir() if p.name.endswith(".yaml")}

    def published_name(self, variant: str) -> str:
        """The name its paper's results go by in the published-results table (lower case)."""
        return self.published_names.get(variant, variant).lower()
