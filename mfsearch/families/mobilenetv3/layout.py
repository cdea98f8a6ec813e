"""Resolve a MobileNetV3 spec into channel counts and feature-map sizes at one input size, with
timm's channel rounding; the torch model and the cost model both read it."""

from __future__ import annotations

from dataclasses import dataclass

from ...spec.geometry import Resolution, Size, as_size, check_resolution, conv_out
from .spec import MobileNetV3Spec


def make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """The nearest multiple of `divisor`, raised by one step if that loses more than 10%
    (timm's `make_divisible`)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


@dataclass(frozen=True)
class BlockLayout:
    stage: int
    index: int  # within its stage
    kind: str  # ds or ir
    cin: int
    hidden: int  # the depthwise conv's channels
    cout: int
    kernel: int
    stride: int
    se: int  # SE squeeze channels (0: no SE)
    act: str
    res_in: Size
    res_out: Size

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.cin == self.cout


@dataclass(frozen=True)
class Layout:
    spec: MobileNetV3Spec
    resolution: Resolution
    stem: int
    stem_res: Size
    blocks: tuple[BlockLayout, ...]
    last_conv: int
    last_res: Size


def resolve(spec: MobileNetV3Spec, resolution: Resolution = 224) -> Layout:
    resolution = check_resolution(resolution)
    scaled = lambda c: make_divisible(c * spec.width)  # noqa: E731
    stem = scaled(spec.stem) if spec.round_stem else spec.stem
    res = conv_out(as_size(resolution), 3, 2)
    stem_res, cin, blocks = res, stem, []
    for s, stage in enumerate(spec.stages):
        index = 0
        for row in stage:
            for r in range(row.repeat):
                stride = row.stride if r == 0 else 1
                cout = scaled(row.out)
                hidden = make_divisible(cin * row.expand) if row.kind == "ir" else cin
                out_res = conv_out(res, row.kernel, stride)
                blocks.append(BlockLayout(
                    stage=s, index=index, kind=row.kind, cin=cin, hidden=hidden, cout=cout,
                    kernel=row.kernel, stride=stride,
                    se=make_divisible(hidden * spec.se_ratio) if row.se else 0, act=row.act,
                    res_in=res, res_out=out_res))
                cin, res, index = cout, out_res, index + 1
    return Layout(spec=spec, resolution=resolution, stem=stem, stem_res=stem_res,
                  blocks=tuple(blocks), last_conv=scaled(spec.last_conv), last_res=res)
