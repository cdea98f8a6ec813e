"""Parse budgets: MAdds such as `150M`, `0.15G`, `150e6` or `150000000`, or a latency with a time
unit such as `12ms`, `800us` or `0.012s`."""

from __future__ import annotations

import math
import re

from ..errors import UserError

_SUFFIX = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
_PATTERN = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([kmg]?)\s*$", re.I)


_FLOPS = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*([kmg]?)\s*flops?\s*$",
                    re.I)
_MADDS = re.compile(r"\s*(madds?|macs?)\s*$", re.I)


def parse_budget(text: str) -> int:
    """MAdds as an integer; a suffix k/M/G (any case) scales the number, and a trailing
    `MAdds`/`MACs` unit is accepted. FLOPs are refused with the conversion."""
    flops = _FLOPS.match(str(text))
    if flops:
        number, suffix = flops.groups()
        half = float(number) / 2
        raise UserError(f"budget {text!r}: budgets are MAdds (multiply-accumulates): "
                        f"{number}{suffix} FLOPs as counted by 2-FLOPs-per-MAC tools is "
                        f"{half:g}{suffix} MAdds (papers' \"FLOPs\" are usually MAdds: then "
                        f"write {number}{suffix})")
    text = _MADDS.sub("", str(text))
    match = _PATTERN.match(text)
    if not match:
        raise UserError(f"budget {text!r}: expected a MAdds count such as 150M, 0.15G, 150e6 "
                        "or 150000000")
    value = float(match.group(1)) * _SUFFIX[match.group(2).lower()]
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"budget {text!r}: must be a positive MAdds count")
    if value < 1e5:
        raise UserError(f"budget {text!r}: {value:,.0f} MAdds is below any Mobile-Former; did you "
                        f"mean {text}M?")
    return int(round(value))


_TIME_UNITS = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1e3}
_TIME = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(us|µs|ms|s)\s*$", re.I)


def parse_latency(text: str) -> float | None:
    """Milliseconds when `text` carries a time unit, else None (it is then a MAdds budget)."""
    match = _TIME.match(str(text))
    if not match:
        return None
    value = float(match.group(1)) * _TIME_UNITS[match.group(2).lower()]
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"budget {text!r}: a latency budget must be a positive time")
    if value < 1e-3:
        raise UserError(f"budget {text!r}: {value * 1e3:g} us is below what can be measured")
    return value

