"""iFormer's cost pillars, shared by the torch model (as module tags) and the cost model."""

STEM = "stem"
DOWNSAMPLE = "downsample"  # the 3x3 stride-2 convs between stages
CONV = "conv"  # ConvNeXt-style blocks
CPE = "cpe"  # conditional positional encoding of attention blocks
ATTENTION = "attention"  # single-head modulation attention (projections + the two matmuls)
FFN = "ffn"
HEAD = "head"

PILLARS = (STEM, DOWNSAMPLE, CONV, CPE, ATTENTION, FFN, HEAD)
