"""Geometry every family shares: output sizes of 'same'-padded convs and the input sizes this
tool accepts. A square input is an int (224); a rectangular one, as detectors take, is a `Size`
(800x1333: height x width)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

from ..errors import UserError

__all__ = ["MAX_RESOLUTION", "MIN_RESOLUTION", "Resolution", "Size", "as_size",
           "check_resolution", "conv_out", "parse_resolution", "size_label", "size_text"]

MIN_RESOLUTION = 1
MAX_RESOLUTION = 4096


@dataclass(frozen=True)
class Size:
    """A feature map's or an image's height and width."""

    h: int
    w: int

    @property
    def area(self) -> int:
        return self.h * self.w

    def __str__(self) -> str:
        return f"{self.h}x{self.w}"


Resolution = Union[int, Size]


def as_size(resolution: Resolution) -> Size:
    return resolution if isinstance(resolution, Size) else Size(resolution, resolution)


def conv_out(size, kernel: int, stride: int):
    """Output size of a conv with 'same' padding kernel // 2 (PyTorch arithmetic), of an int side
    or of each side of a `Size`."""
    if isinstance(size, Size):
        return Size(conv_out(size.h, kernel, stride), conv_out(size.w, kernel, stride))
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def size_label(size: Resolution) -> int | str:
    """How tables and JSON show a size: the side of a square, "HxW" otherwise."""
    size = as_size(size)
    return size.h if size.h == size.w else str(size)


def size_text(size: Resolution | str) -> str:
    """"224x224" or "800x1333", as settings lines spell an input size (of a size or a label)."""
    return str(as_size(check_resolution(size)))


def _side(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{what}: expected an integer, got {value!r}")
    if not MIN_RESOLUTION <= value <= MAX_RESOLUTION:
        raise UserError(f"{what}: must be between {MIN_RESOLUTION} and {MAX_RESOLUTION}, "
                        f"got {value}")
    return value


def check_resolution(resolution, rectangular: bool = True) -> Resolution:
    """An input size as the tool keeps it: an int for a square, a `Size` for a rectangle. Takes
    224, (800, 1333), Size(800, 1333) or the strings "224" and "800x1333"."""
    if isinstance(resolution, str):
        resolution = parse_resolution(resolution)
    if isinstance(resolution, (tuple, list)) and len(resolution) == 2:
        resolution = Size(*resolution)
    if isinstance(resolution, Size):
        h, w = _side(resolution.h, "resolution height"), _side(resolution.w, "resolution width")
        if h == w:
            return h
        if not rectangular:
            raise UserError(f"resolution: this command takes a square input (one number), got "
                            f"{resolution}")
        return Size(h, w)
    return _side(resolution, "resolution")


def parse_resolution(text: str) -> Resolution:
    """"224" -> 224, "800x1333" -> Size(800, 1333) (height x width)."""
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:[xX*]\s*(-?\d+)\s*)?", text)
    if not match:
        raise UserError(f"expected a resolution N or HxW (e.g. 224 or 800x1333), got {text!r}")
    h = int(match.group(1))
    return check_resolution(Size(h, int(match.group(2))) if match.group(2) else h)
