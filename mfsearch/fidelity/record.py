"""The proxy's measured rank fidelity: `mfsearch fidelity` writes it beside its report
(`reports/proxy_fidelity.json` by default) and every search report quotes one. mfsearch ships
the project's own measurement (this project's `reports/proxy_fidelity.json`); a search can quote
another file instead. Nothing writes inside the installed package."""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path

from ..errors import UserError
from ..families import DEFAULT_FAMILY

SHIPPED = "fidelity_measured.json"  # package data of mfsearch.fidelity
# A copy of this project's reports/external_validity.json (`mfsearch report` writes that one):
# what real evidence says of the default proxy, quoted beside the internal figures.
SHIPPED_EXTERNAL = "external_measured.json"


def record_path(report: Path) -> Path:
    """Where a fidelity report's machine-readable record goes: beside it, as JSON."""
    return Path(report).with_suffix(".json")


def load_record(path: str | Path | None = None) -> dict | None:
    """A recorded measurement (the shipped one without `path`); None if there is none."""
    if path is None:
        try:
            return json.loads(resources.files(__package__).joinpath(SHIPPED).read_text())
        except (OSError, ValueError):
            return None
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(record, dict) or "stats" not in record:
            raise ValueError
        return record
    except (OSError, ValueError, UnicodeDecodeError):
        raise UserError(f"{path}: not a fidelity record (written by `mfsearch fidelity` "
                        "beside its report)") from None


def load_external() -> dict | None:
    """The shipped external-validity record; None if the package has none."""
    try:
        return json.loads(resources.files(__package__).joinpath(SHIPPED_EXTERNAL).read_text())
    except (OSError, ValueError):
        return None


def external_summary(record: dict | None = None) -> str:
    """The external figures of the default proxy (`record`, or the shipped one) in one
    paragraph: agreement with the paper's ImageNet ablations per task, whether every shipped
    variant learns, and the tau against a longer training on real images."""
    r = record if record is not None else load_external()
    if not r:
        return ("External validity not measured yet: see `mfsearch ablate --train` and "
                "`mfsearch variants --train`.")
    parts = []
    for task, a in r.get("ablations", {}).items():
        parts.append(f"on {task} it orders {a['pairs_agree']} of {a['pairs']} pairs alike "
                     f"(Kendall tau {a['tau']:+.2f}, {a['seeds']} seeds; "
                     f"{', '.join(f'{k} {v}' for k, v in a['findings'].items())})")
    text = ("Against real evidence (the default proxy settings): of the paper's ImageNet "
            "ablations (Tables 5-9, 13 variants of Mobile-Former-294M, 42 pairs whose top-1 "
            "differs by at least 0.5 points; #params alone orders 40 of them), "
            + ("; ".join(parts) if parts else "not measured yet") + ".")
    learn = r.get("variants_learn", {})
    if learn:
        text += " Shipped variants that learn under their family's default settings: " + \
            "; ".join(f"{sum(v.values())} of {len(v)} on {task}" for task, v in learn.items()) + "."
    fid = r.get("cifar10_fidelity")
    text += (" Against a longer CIFAR-10 training of the band: not measured yet."
             if fid is None else
             f" Against a longer CIFAR-10 training of {fid['archs']} band architectures: tau "
             f"{fid['tau']:+.2f} (ceiling {fid['ceiling']:.2f}).")
    if r.get("cross_task_tau") is not None:
        text += f" The built-in task ranks like CIFAR-10 at tau {r['cross_task_tau']:+.2f}."
    return text + " See reports/external_validity.md."


def save_record(record: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


# Proxy settings that only replay the same measurement; every other one (and the family, band
# and data) changes what a ranking's fidelity is.
REPLAY_ONLY = ("seed", "device")


def differences(record: dict, proxy=None, data_name: str | None = None,
                band_label: str | None = None, family: str | None = None) -> list[str]:
    """How a search's settings differ from the recorded measurement's: "steps 200 (measured:
    60)", one entry per setting."""
    here = {"family": family, "band": band_label, "data": data_name}
    if proxy is not None:
        here.update((k, v) for k, v in asdict(proxy).items() if k not in REPLAY_ONLY)
    # Records from before the family was stored were all measured on the default space.
    measured = {"family": record.get("family", DEFAULT_FAMILY), "band": record.get("band"),
                "data": record.get("data"), **record.get("config", {})}
    return [f"{name} {value} (measured: {measured[name]})" for name, value in here.items()
            if value is not None and measured.get(name) is not None and value != measured[name]]


def fidelity_summary(proxy=None, data_name: str | None = None, band_label: str | None = None,
                     family: str | None = None, record: dict | None = None) -> str:
    """The recorded fidelity (`record`, or the shipped one), in one paragraph; when the
    search's proxy, data, band or space family differ from what was measured, the paragraph
    starts by saying so."""
    r = record or load_record()
    if not r:
        return ("Not measured yet for this proxy: run `mfsearch fidelity` (results go to "
                "reports/proxy_fidelity.md).")
    changed = differences(r, proxy, data_name, band_label, family)
    caveat = (f"Not measured for this search's settings: {'; '.join(changed)}. Run `mfsearch "
              "fidelity` with the same options to measure them; the record below is for the "
              "measured settings only. " if changed else "")
    s = r["stats"]
    repeats = r.get("repeats", 1)
    reference = f" (mean of {repeats} seeds)" if repeats > 1 else ""
    agreement = ""
    if "replicates" in r:
        agreement = (f" Two seeds' rankings agree at tau {r['replicates']['proxy']:.2f} for "
                     f"the proxy and {r['replicates']['long']:.2f} for the longer training.")
    if "held_out" in r:
        h = {kind: sum(taus) / len(taus) for kind, taus in r["held_out"].items()}
        agreement += (f" Against the other seeds' longer runs, one longer run ranks at tau "
                      f"{h['long']:.2f} (a yardstick for one short run) and one proxy "
                      f"run at {h['proxy']:.2f}, on average over seeds.")
    if "ceiling" in r:
        corrected = s["proxy"].get("kendall_corrected")
        agreement += (f" The reference's seeds correlate at r {r['seed_agreement_r']:.2f}, so "
                      f"the mean of {repeats} has reliability {r['reliability']:.2f} "
                      f"(Spearman-Brown) and no ranker can exceed tau {r['ceiling']:.2f} "
                      f"against it: the proxy reaches {100 * s['proxy']['of_ceiling']:.0f}% "
                      "of that ceiling"
                      + (f" (tau {corrected:.2f} corrected for the reference's noise)."
                         if corrected is not None else "."))
    decision = r.get("decision", {})
    if "default" in decision and "flat" in decision:
        d, f = decision["default"], decision["flat"]
        within = "" if d["interval"] is None else (
            f" ({d['interval']['top_quartile_rate'][0]:.0%} to "
            f"{d['interval']['top_quartile_rate'][1]:.0%})")
        agreement += (f" Searches replayed over these trainings: the default procedure's pick "
                      f"lies in the reference's top quartile of the band in "
                      f"{d['top_quartile_rate']:.0%}{within} of them, the flat procedure's at "
                      f"the same compute in {f['top_quartile_rate']:.0%}, random choice's in "
                      f"{decision['random']['top_quartile_rate']:.0%}; mean regret "
                      f"{d['regret']:.4f} against {f['regret']:.4f} top-1.")
    interval = s["proxy"].get("kendall_interval")
    spread = (f" ({r['confidence']:.0%} bootstrap interval over architectures "
              f"{interval[0]:.2f} to {interval[1]:.2f})" if interval else "")
    seeds = ""
    if r.get("seed_taus"):
        taus = r["seed_taus"]
        seeds = (f"each of {len(taus)} proxy seeds alone: tau {min(taus):.2f} to "
                 f"{max(taus):.2f}, mean {sum(taus) / len(taus):.2f}; ")
    return (caveat + f"Measured on {r['architectures']} architectures from a {r['band']} band "
            f"({r['date']}): ranking by this proxy ({r['proxy']}) vs a {r['factor']}x longer "
            f"training{reference}: Kendall tau {s['proxy']['kendall']:.2f}{spread}, Spearman rho "
            f"{s['proxy']['spearman']:.2f}; " + seeds
            + "".join(f"by the same runs' {label}: tau {s[key]['kendall']:.2f}; "
                      for key, label in (("proxy_top1", "held-out top-1"),
                                         ("proxy_loss", "training loss")) if key in s)
            + f"ranking by params: tau {s['params']['kendall']:.2f}; "
            f"by MAdds: tau {s['madds']['kendall']:.2f}.{agreement} See "
            "reports/proxy_fidelity.md.")
