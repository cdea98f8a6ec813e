"""The cost pillars of each family, shared by the torch models (as module tags) and the cost
models, so a counter's or profiler's per-module results land on the same pillars."""

STEM = "stem"
HEAD = "head"

# Mobile-Former
BNECK_LITE = "bneck_lite"
MOBILE = "mobile"
DYRELU = "dyrelu"
MOBILE_TO_FORMER = "mobile_to_former"
FORMER = "former"
FORMER_TO_MOBILE = "former_to_mobile"

PILLARS = (STEM, BNECK_LITE, MOBILE, DYRELU, MOBILE_TO_FORMER, FORMER, FORMER_TO_MOBILE, HEAD)

# The paper's "Former and bridge": the two cross attentions and the Former. The DyReLU generator
# (token 0 -> activation coefficients) is the third path from Former to Mobile; `bridge_share`
# reports it both ways.
FORMER_AND_BRIDGE = (MOBILE_TO_FORMER, FORMER, FORMER_TO_MOBILE)

# iFormer
DOWNSAMPLE = "downsample"  # the 3x3 stride-2 convs between stages
CONV = "conv"  # ConvNeXt-style blocks
CPE = "cpe"  # conditional positional encoding of attention blocks
ATTENTION = "attention"  # single-head modulation attention (projections + the two matmuls)
FFN = "ffn"

IFORMER_PILLARS = (STEM, DOWNSAMPLE, CONV, CPE, ATTENTION, FFN, HEAD)
