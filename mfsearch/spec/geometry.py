"""Geometry every family shares: output sizes of 'same'-padded convs and the input resolutions
this tool accepts."""

from __future__ import annotations

from ..errors import UserError

MIN_RESOLUTION = 1
MAX_RESOLUTION = 4096


def conv_out(size: int, kernel: int, stride: int) -> int:
    """Output size of a conv with 'same' padding kernel // 2 (PyTorch arithmetic)."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


def check_resolution(resolution: int) -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise UserError(f"resolution: expected an integer, got {resolution!r}")
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise UserError(f"resolution: must be between {MIN_RESOLUTION} and {MAX_RESOLUTION}, "
                        f"got {resolution}")
    return resolution
