"""Closed-form params and ingredients of the layers every family is built from (per image)."""

from __future__ import annotations

from .counts import Counts


def conv_bn(cin: int, cout: int, kernel: int, groups: int, positions: int) -> Counts:
    """Bias-free conv followed by BatchNorm (2 affine params per channel)."""
    weights = kernel * kernel * (cin // groups) * cout
    return Counts(params=weights + 2 * cout, core=weights * positions, bn=cout * positions)


def conv_folded(cin: int, cout: int, kernel: int, groups: int, positions: int) -> Counts:
    """A conv with its BatchNorm folded in (so it has a bias and no BatchNorm elements)."""
    weights = kernel * kernel * (cin // groups) * cout
    return Counts(params=weights + cout, core=weights * positions)


def linear(fan_in: int, fan_out: int, rows: int) -> Counts:
    """Linear with bias applied to `rows` vectors."""
    return Counts(params=fan_in * fan_out + fan_out, core=rows * fan_in * fan_out)


def layer_norm(dim: int, rows: int) -> Counts:
    return Counts(params=2 * dim, ln=rows * dim)


def matmul(m: int, k: int, n: int) -> Counts:
    return Counts(core=m * k * n)
