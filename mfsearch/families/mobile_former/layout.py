"""Resolve a spec into concrete layer geometry (widths and feature-map sizes) at one input size.

Both the torch builder and the analytic cost model read this layout, so the two can never
disagree about a width or a resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...spec.geometry import Resolution, Size, as_size, check_resolution, conv_out
from .spec import MobileFormerSpec


@dataclass(frozen=True)
class StemLayout:
    cout: int
    res_in: Size
    res_out: Size


@dataclass(frozen=True)
class BneckLiteLayout:
    cin: int
    hidden: int
    cout: int
    stride: int
    res_in: Size
    res_out: Size

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.cin == self.cout


@dataclass(frozen=True)
class BlockLayout:
    """One Mobile-Former block. hidden is (Ch,) for stride 1 and (Ch1, Ch2) for downsample."""

    index: int
    cin: int
    cout: int
    stride: int
    hidden: tuple[int, ...]
    res_in: Size
    res_out: Size

    @property
    def downsample(self) -> bool:
        return self.stride == 2

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.cin == self.cout


@dataclass(frozen=True)
class Layout:
    spec: MobileFormerSpec
    resolution: Resolution
    stem: StemLayout
    bneck_lite: BneckLiteLayout
    blocks: tuple[BlockLayout, ...]
    last_width: int
    last_res: Size


def resolve(spec: MobileFormerSpec, resolution: Resolution = 224) -> Layout:
    """Widths and feature-map sizes of every block of `spec` for an input of `resolution` (a side
    or a `Size`)."""
    resolution = check_resolution(resolution)
    k = spec.dw_kernel
    size = as_size(resolution)
    r0 = conv_out(size, 3, 2)
    stem = StemLayout(cout=spec.stem, res_in=size, res_out=r0)
    bl = spec.bneck_lite
    r1 = conv_out(r0, 3, bl.stride)
    bneck = BneckLiteLayout(cin=spec.stem, hidden=spec.stem * bl.expand, cout=bl.out,
                            stride=bl.stride, res_in=r0, res_out=r1)
    blocks = []
    cin, res = bl.out, r1
    for i, b in enumerate(spec.blocks):
        res_out = conv_out(res, k, b.stride)
        if b.downsample:
            hidden: tuple[int, ...] = (cin * int(b.expand), b.out * b.expand2)
        else:
            hidden = (round(cin * b.expand),)
        blocks.append(BlockLayout(index=i, cin=cin, cout=b.out, stride=b.stride, hidden=hidden,
                                  res_in=res, res_out=res_out))
        cin, res = b.out, res_out
    return Layout(spec=spec, resolution=resolution, stem=stem, bneck_lite=bneck,
                  blocks=tuple(blocks), last_width=cin, last_res=res)
