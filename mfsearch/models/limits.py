"""What this tool is willing to allocate for one model: beyond these a spec is a typo or an
attack, and it gets a clear error instead of exhausting memory (costs are still analysed)."""

from __future__ import annotations

from ..errors import UserError

MAX_BUILD_PARAMS = 1_000_000_000
MAX_ACTIVATION_BYTES = 4 << 30


def check_limits(name: str, resolution: int, params: int, largest_map: int) -> None:
    """`largest_map`: elements of the biggest single feature map (or attention map) per image."""
    if params > MAX_BUILD_PARAMS:
        raise UserError(f"{name}: {params:,} parameters ({params * 4 / 2**30:.1f} GiB of "
                        f"weights) is more than the {MAX_BUILD_PARAMS:,} this tool builds; "
                        "`mfsearch cost` still analyses it")
    if largest_map * 4 > MAX_ACTIVATION_BYTES:
        raise UserError(f"{name} @ {resolution}: one feature map alone needs "
                        f"{largest_map * 4 / 2**30:.1f} GiB per image; lower --res or the widths")
