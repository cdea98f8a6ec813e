"""The proxy's measured rank fidelity, recorded by `mfsearch fidelity` and quoted by every
search report."""

from __future__ import annotations

import json
from pathlib import Path

RECORD = Path(__file__).with_name("fidelity_measured.json")


def load_record() -> dict | None:
    try:
        return json.loads(RECORD.read_text())
    except (OSError, ValueError):
        return None


def save_record(record: dict) -> None:
    RECORD.write_text(json.dumps(record, indent=1) + "\n")


def fidelity_summary() -> str:
    r = load_record()
    if not r:
        return ("Not measured yet for this proxy: run `mfsearch fidelity` (results go to "
                "reports/proxy_fidelity.md).")
    s = r["stats"]
    repeats = r.get("repeats", 1)
    reference = f" (mean of {repeats} seeds)" if repeats > 1 else ""
    agreement = ""
    if "replicates" in r:
        agreement = (f" Two seeds' rankings agree at tau {r['replicates']['proxy']:.2f} for "
                     f"the proxy and {r['replicates']['long']:.2f} for the longer training.")
    return (f"Measured on {r['architectures']} architectures from a {r['band']} band "
            f"({r['date']}): ranking by this proxy ({r['proxy']}) vs a {r['factor']}x longer "
            f"training{reference}: Kendall tau {s['proxy']['kendall']:.2f}, Spearman rho "
            f"{s['proxy']['spearman']:.2f}; "
            + "".join(f"by the same runs' {label}: tau {s[key]['kendall']:.2f}; "
                      for key, label in (("proxy_top1", "held-out top-1"),
                                         ("proxy_loss", "training loss")) if key in s)
            + f"ranking by params: tau {s['params']['kendall']:.2f}; "
            f"by MAdds: tau {s['madds']['kendall']:.2f}.{agreement} See "
            "reports/proxy_fidelity.md.")
