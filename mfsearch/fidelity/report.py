"""The proxy fidelity report (Markdown): rankers against the reference, seed agreement, the
reference's ceiling and the decision quality of search procedures replayed over the trainings."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .measure import BOOTSTRAP_RESAMPLES, CONFIDENCE, MIN_FOR_INTERVAL
from .record import external_summary


_OTHER_SCORES = {"proxy_top1": "its held-out top-1 (scored like the longer runs)",
                 "proxy_loss": "minus its mean training loss"}


def _other_scores(record: dict) -> str:
    """The sentence that says how the report's proxy_<score> rows rank."""
    rows = [k for k in record["stats"] if k in _OTHER_SCORES]
    return (f"`{'`, `'.join(rows)}`: the same proxy runs (seed {record['config']['seed']}) "
            f"ranked by {' and '.join(_OTHER_SCORES[k] for k in rows)}. ")


def interval_text(interval) -> str:
    return "n/a" if interval is None else f"{interval[0]:+.2f} to {interval[1]:+.2f}"


def _per_seed(taus: list[float], first: int) -> str:
    return ", ".join(f"seed {first + k} {t:+.3f}" for k, t in enumerate(taus)) + \
        f" (mean {sum(taus) / len(taus):+.3f})"


def write_report(frame: pd.DataFrame, record: dict, path: Path, command: str) -> None:
    s = record["stats"]
    table = pd.DataFrame([{"ranker": k, "Kendall tau": round(v["kendall"], 3),
                           f"{CONFIDENCE:.0%} interval": interval_text(v.get("kendall_interval")),
                           "Spearman rho": round(v["spearman"], 3)} for k, v in s.items()])
    repeats = record.get("repeats", 1)
    first = record["config"]["seed"]
    if repeats > 1:
        seeds = f"with seeds {first}-{first + repeats - 1}. The reference is the longer runs' " \
                f"mean over seeds; `proxy` is seed {first}'s proxy alone (what a search " \
                "scores), `proxy_mean` the proxy's mean over seeds."
    else:
        seeds = f"with seed {first}."
    jobs = record.get("jobs", 1)
    machine = f"{record['threads']} CPU threads" if jobs == 1 else \
        f"{jobs} trainings at a time, {record['threads']} CPU thread(s) each"
    reused = record.get("reused", 0)
    if reused:
        machine += f"; {reused} of {2 * record['architectures'] * repeats} trainings reused " \
                   "from an earlier run's training log"
    cpus = record.get("cpus", {})
    if cpus:  # the same training rounds differently on another CPU model
        machine += "; trained on " + ", ".join(f"{cpu} ({n})" for cpu, n in cpus.items())
    lines = [
        "# Proxy fidelity", "",
        f"Command: `{command}` ({record['date']}, data {record['data']}, {machine})", "",
        f"{record['architectures']} architectures sampled at random from the {record['band']} "
        f"band of the space, each trained with the proxy ({record['proxy']}) "
        f"and with a {record['factor']}x longer run, {seeds} The longer runs are scored by "
        "held-out top-1 after re-estimating BatchNorm statistics on "
        f"{record['config']['bn_calibration']} training images; "
        + _other_scores(record) + "The table compares each ranking with the reference "
        "ranking; params and MAdds are the baselines a proxy must beat. The interval is a "
        f"bootstrap over the architectures ({BOOTSTRAP_RESAMPLES} resamples, percentile): how "
        f"far another {record['architectures']} architectures from the same band could move "
        "the tau.", "",
        table.to_markdown(index=False), ""]
    if record["architectures"] < MIN_FOR_INTERVAL:
        lines += [f"Intervals are n/a: with {record['architectures']} architectures a resample "
                  "repeats so few distinct ones that an interval means nothing; measure at "
                  f"least {MIN_FOR_INTERVAL} (`--archs {MIN_FOR_INTERVAL}`).", ""]
    if "margins" in record:
        lines += [
            "The proxy's tau less each baseline's, on the same resamples: " + "; ".join(
                f"{name} {m['margin']:+.3f} ({interval_text(m['interval'])})"
                for name, m in record["margins"].items())
            + ". An interval wholly above 0: the proxy beats that baseline beyond the luck of "
            "which architectures were drawn.", ""]
    lines += _seed_lines(record, first) + _ceiling_lines(record)
    lines += ["## External validity", "", external_summary(), ""]
    lines += decision_lines(record)
    lines += ["## Per architecture", "", frame.to_markdown(index=False), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def _seed_lines(record: dict, first: int) -> list[str]:
    """The sections on seeds: how they agree, each alone, each against the others' reference."""
    lines: list[str] = []
    if "replicates" in record:
        r = record["replicates"]
        lines += [
            "## Seed agreement", "",
            "Mean Kendall tau between the rankings of two seeds of the same training: how much "
            "of a ranking is the architecture rather than the seed. A single run of the "
            f"reference agrees with another seed's at {r['long']:+.3f}, the proxy with "
            f"another seed's proxy at {r['proxy']:+.3f}.", "",
            pd.DataFrame([{"training": "proxy", "Kendall tau": round(r["proxy"], 3)},
                          {"training": f"{record['factor']}x", "Kendall tau": round(r["long"], 3)}
                          ]).to_markdown(index=False), ""]
    if "seed_taus" in record:
        lines += [
            "## Each proxy seed against the reference", "",
            f"A search scores each candidate with one proxy run; its ranking is one draw of "
            f"several. Each seed's proxy alone ranks at Kendall tau "
            f"{_per_seed(record['seed_taus'], first)} against the reference.", ""]
    if "held_out" in record:
        h = record["held_out"]
        lines += [
            "## Against the other seeds' reference", "",
            "Each seed's run ranked against the mean of the other seeds' longer runs, so that "
            "no run meets its own seed in the reference. The longer run alone, at "
            f"{record['factor']}x the proxy's cost, is the yardstick for one short run: "
            f"{record['factor']}x {_per_seed(h['long'], first)}; proxy "
            f"{_per_seed(h['proxy'], first)}.", ""]
    return lines


def _ceiling_lines(record: dict) -> list[str]:
    """The section on the reference's reliability and the ceiling it sets."""
    if "ceiling" not in record:
        return []
    lines: list[str] = []
    rows = [{"ranker": name, "Kendall tau": round(s["kendall"], 3),
             "corrected": None if s.get("kendall_corrected") is None
             else round(s["kendall_corrected"], 3),
             "of the ceiling": None if s.get("of_ceiling") is None
             else f"{100 * s['of_ceiling']:.0f}%"} for name, s in record["stats"].items()]
    lines += [
        "## Against the reference's ceiling", "",
        f"Two seeds of the {record['factor']}x training correlate at r = "
        f"{record['seed_agreement_r']:+.3f} (Pearson, mean over pairs); by Spearman-Brown "
        f"the mean of {len(record['seed_taus'])} seeds has reliability "
        f"{record['reliability']:.3f}, so no ranker can exceed Kendall tau "
        f"{record['ceiling']:+.3f} against it (the true ranking's expected tau, via "
        "tau = 2/pi arcsin r). Corrected: each tau divided, as a correlation, by the square "
        "root of that reliability (what it would score against a reference of infinitely "
        "many seeds). The one-4x-run yardstick is in the section above.", "",
        pd.DataFrame(rows).to_markdown(index=False), ""]
    if record.get("robust_reference"):
        lines += [_robust_line(record["robust_reference"], len(record["seed_taus"])), ""]
    return lines


def _robust_line(robust: dict, seeds: int) -> str:
    """Whether a robust pool of the seeds makes a measurably more reliable reference."""
    told = "; ".join(f"{name} {entry['kendall']:+.3f}" + (
        f" (gain {entry['gain']:+.3f}, {interval_text(entry['interval'])})"
        if "gain" in entry else "") for name, entry in robust.items())
    better = [name for name, entry in robust.items() if "gain" in entry
              and entry["interval"][0] > 0]
    verdict = (f"{' and '.join(better)} raise(s) it beyond the luck of the architectures"
               if better else "no pooling raises it beyond the luck of the architectures, so "
               "the reference stays the mean")
    return (f"Robust reference: each pool of {seeds - 1} seeds' longer runs against the "
            f"held-out seed's run, mean Kendall tau over the held-out seeds: {told}; {verdict}.")


def decision_lines(record: dict) -> list[str]:
    """The decision-quality section: replayed searches (fidelity/decision.py)."""
    if "decision_missing" in record:
        return ["## Decision quality", "",
                f"Not estimated: {record['decision_missing']} proxy run(s) were logged without "
                "their per-step losses, from which rungs are read; `mfsearch fidelity "
                "--relog-losses` (same settings) retrains those.", ""]
    if "decision" not in record:
        return []
    rows = []
    for name, d in record["decision"].items():
        i = d["interval"] or {"top_quartile_rate": (math.nan, math.nan),
                              "regret": (math.nan, math.nan)}
        rows.append({"procedure": name, "candidates": d.get("candidates", "-"),
                     "rungs (steps)": ", ".join(map(str, d.get("rungs", []))) or "-",
                     "pruner": d.get("pruner") or "-",
                     "finalists x seeds": f"{d['finalists']} x {1 + d['confirm_seeds']}"
                     if d.get("finalists") else "-",
                     "steps trained": d.get("steps", "-"),
                     "top-quartile rate": f"{d['top_quartile_rate']:.0%} "
                     f"({i['top_quartile_rate'][0]:.0%} to {i['top_quartile_rate'][1]:.0%})",
                     "mean regret (top-1)": f"{d['regret']:.4f} ({i['regret'][0]:.4f} to "
                     f"{i['regret'][1]:.4f})"})
    taus = "; ".join(f"{t['steps']} steps {t['kendall']:+.3f}"
                     + (f" ({100 * t['of_ceiling']:.0f}% of the ceiling)"
                        if t.get("of_ceiling") is not None else "")
                     for t in record.get("rung_taus", []))
    return ["## Decision quality", "",
            "Searches replayed over these trainings (2000 each; candidates drawn from the "
            f"{record['architectures']} architectures, each with a random order of its seeds; "
            "rung scores read from the per-step losses; see mfsearch/fidelity/decision.py): how "
            "often the pick lies in the reference's top quartile of the band, and the mean "
            "reference top-1 given up against the band's best. `default` is `mfsearch budget`'s "
            "procedure (its control's runs counted in its steps); the pruner's rule is "
            "Optuna's, applied to the candidates in the order they train (one worker), so the "
            "steps trained are a mean over the replays. `flat` is the flat procedure and the "
            "other pruner the same procedure, each with as many candidates as fit in the "
            "default's steps; `flat-12` is the earlier default; random choice is the floor. "
            "Intervals: bootstrap over the architectures.", "",
            pd.DataFrame(rows).to_markdown(index=False), "",
            *_against_target(record["decision"]),
            f"The first seed's running score against the reference at each rung: {taus}.", "",
            *_table_lines(record.get("procedures")), ""]


def _table_lines(table: dict | None) -> list[str]:
    """A sentence on the procedure table a time-limited search plans from."""
    if not table:
        return []
    eta = "4" if "4" in table["etas"] else next(iter(table["etas"]))
    row = table["etas"][eta]
    rates = row["top_quartile_rate"]
    few = rates[min(8, len(rates)) - 1][0][0]
    best = rates[-1][-1][-1]
    return [f"The record's `procedures` table replays successive halving at eta "
            f"{', '.join(table['etas'])}, 1-{table['candidates']} candidates, 1-"
            f"{table['finalists']} finalists and 1-{table['confirm_seeds']} further seeds "
            f"({table['searches']} searches each): `mfsearch budget --time-limit` plans from "
            f"it (mfsearch/nas/timing.py). At eta {eta}, "
            f"{min(8, len(rates))} candidates with one finalist and one seed pick a "
            f"top-quartile design {few:.0%} of the time, {len(rates)} candidates with "
            f"{table['finalists']} finalists and {table['confirm_seeds']} seeds {best:.0%}."]


def _against_target(decision: dict) -> list[str]:
    """Issue 21's acceptance, in one line: the default's top-quartile rate at least 75% and
    above the flat procedure's at the same compute, its regret at most half of flat's."""
    if "default" not in decision or "flat" not in decision:
        return []
    d, f = decision["default"], decision["flat"]
    ratio = d["regret"] / f["regret"] if f["regret"] else math.inf
    met = d["top_quartile_rate"] >= 0.75 and d["top_quartile_rate"] > f["top_quartile_rate"] \
        and ratio <= 0.5
    return [f"Against the target (top-quartile rate >= 75% and above flat's, regret <= half of "
            f"flat's): default {d['top_quartile_rate']:.0%} against flat "
            f"{f['top_quartile_rate']:.0%}; regret {ratio:.2f} of flat's: "
            + ("met." if met else "not met."), ""]
