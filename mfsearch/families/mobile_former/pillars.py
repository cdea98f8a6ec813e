"""Mobile-Former's cost pillars, shared by the torch model (as module tags) and the cost model,
so a counter's or profiler's per-module results land on the same pillars."""

STEM = "stem"
BNECK_LITE = "bneck_lite"
MOBILE = "mobile"
DYRELU = "dyrelu"
MOBILE_TO_FORMER = "mobile_to_former"
FORMER = "former"
FORMER_TO_MOBILE = "former_to_mobile"
HEAD = "head"

PILLARS = (STEM, BNECK_LITE, MOBILE, DYRELU, MOBILE_TO_FORMER, FORMER, FORMER_TO_MOBILE, HEAD)

# The paper's "Former and bridge": the two cross attentions and the Former. The DyReLU generator
# (token 0 -> activation coefficients) is the third path from Former to Mobile; the cost summary
# reports it both ways.
FORMER_AND_BRIDGE = (MOBILE_TO_FORMER, FORMER, FORMER_TO_MOBILE)

GROUPS = {"mobile": (STEM, BNECK_LITE, MOBILE), "former+bridge": FORMER_AND_BRIDGE,
          "dyrelu": (DYRELU,), "head": (HEAD,)}
