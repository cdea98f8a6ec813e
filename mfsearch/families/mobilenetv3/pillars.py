"""MobileNetV3's cost pillars, shared by the torch model (as module tags) and the cost model."""

STEM = "stem"  # the 3x3 stride-2 conv
BLOCKS = "blocks"  # depthwise-separable and inverted-residual blocks, less their SE
SE = "se"  # squeeze-excite: pool, reduce, expand, gate
HEAD = "head"  # the efficient last stage: 1x1 conv, pool, the conv-head layer, classifier

PILLARS = (STEM, BLOCKS, SE, HEAD)
