"""How far a proxy's ranking of the paper's ablation rows (Tables 5-9, Mobile-Former-294M and its
variants) agrees with the paper's ImageNet top-1: Kendall tau, the pairs whose published top-1
differs by at least half a point and how many the proxy orders alike, and the paper's six
findings as paired comparisons over seeds. #params and MAdds ranked the same way are the
baselines a proxy has to beat: the paper's ablations reward both."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml
from scipy import stats

from ..nas.confirm import CONFIDENCE, mean_interval

TABLES = ("5", "6", "7", "8", "9")  # the tables whose rows are variants of one base model
PAIR_GAP = 0.5  # points of published top-1 that make a pair's order worth checking


@dataclass
class Variant:
    """One distinct architecture of the ablation tables (the base model appears in several)."""

    rows: list[tuple[str, str]]  # (table, row label) that name it
    paper_top1: float
    params: int
    madds: int
    scores: list[float] = field(default_factory=list)  # the proxy's, one per seed (NaN: diverged)
    top1: list[float] = field(default_factory=list)  # held-out top-1, one per seed
    final_loss: list[float] = field(default_factory=list)  # training loss at the end, per seed

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores)


def paper_variants(tables, base) -> tuple[list[Variant], dict[str, list[Variant]], list]:
    """The distinct architectures of `tables`' rows (those of TABLES) on the spec `base`, the
    variants of each table, and each variant's spec (scores left empty)."""
    from ..families import analyze
    from .ablations import row_spec

    found: dict[str, Variant] = {}
    specs = {}
    per_table: dict[str, list[Variant]] = {}
    for table in (t for t in tables if t.id in TABLES):
        for row in table.rows:
            spec = row_spec(row, base)
            key = json.dumps({k: v for k, v in spec.to_dict().items() if k != "name"},
                             sort_keys=True)
            if key not in found:
                cost = analyze(spec, table.resolution)
                found[key] = Variant([], row.paper["top1"], cost.params, cost.madds("paper"))
                specs[key] = spec
            found[key].rows.append((table.id, row.label))
            per_table.setdefault(table.id, []).append(found[key])
    return list(found.values()), per_table, list(specs.values())


@dataclass(frozen=True)
class Finding:
    name: str
    table: str
    better: str
    worse: str
    says: str


def load_findings() -> list[Finding]:
    text = resources.files("mfsearch.reports").joinpath("ablations.yaml").read_text("utf-8")
    return [Finding(name, str(f["table"]), str(f["better"]), str(f["worse"]), f["says"])
            for name, f in yaml.safe_load(text)["findings"].items()]


def ranking(variants: list[Variant], key) -> dict:
    """Kendall tau of `key` against the paper's top-1, and the pairs PAIR_GAP apart that `key`
    orders as the paper does (a tie in `key` does not)."""
    paper = [v.paper_top1 for v in variants]
    values = [key(v) for v in variants]
    tau = float(stats.kendalltau(values, paper).statistic) if len(variants) > 2 else None
    pairs = agree = 0
    for a, b in itertools.combinations(range(len(variants)), 2):
        if round(abs(paper[a] - paper[b]), 6) < PAIR_GAP:  # one decimal, printed
            continue
        pairs += 1
        agree += (values[a] - values[b]) * (paper[a] - paper[b]) > 0
    return {"tau": None if tau is None else round(tau, 4), "pairs": pairs,
            "pairs_agree": int(agree)}


def finding_verdict(differences: list[float]) -> tuple[str, tuple[float, float] | None]:
    """"reproduced" (interval above zero), "same direction" (mean above zero, interval reaching
    it), "reversed" (mean at or below zero, interval reaching zero) or "reversed beyond noise"
    (interval below zero); with one seed there is no interval and the sign decides."""
    mean = sum(differences) / len(differences)
    band = mean_interval(differences)
    if band is not None and band[0] > 0:
        return "reproduced", band
    if band is not None and band[1] < 0:
        return "reversed beyond noise", band
    return ("same direction" if mean > 0 else "reversed"), band


def agreement(variants: list[Variant], per_table: dict[str, list[Variant]],
              findings: list[Finding], seeds: int, task: str) -> dict:
    """The record `external_validity.json` keeps per task under "ablations"."""
    by_row = {row: v for v in variants for row in v.rows}
    ranked = [v for v in variants if math.isfinite(v.mean)]  # a diverged training ranks nothing
    found = {}
    for f in findings:
        better, worse = by_row[(f.table, f.better)], by_row[(f.table, f.worse)]
        diffs = [a - b for a, b in zip(better.scores, worse.scores)]
        verdict, band = (finding_verdict(diffs) if all(map(math.isfinite, diffs))
                         else ("not comparable (a training diverged)", None))
        found[f.name] = {"says": f.says, "table": f.table, "difference": sum(diffs) / len(diffs),
                         "interval": band, "verdict": verdict}
    return {"task": task, "seeds": seeds, "variants": len(variants), "ranked": len(ranked),
            **ranking(ranked, lambda v: v.mean),
            "baselines": {"params": ranking(ranked, lambda v: v.params),
                          "madds": ranking(ranked, lambda v: v.madds)},
            "tables": {t: ranking([v for v in rows if v in ranked], lambda v: v.mean)
                       for t, rows in per_table.items()},
            "findings": {name: f["verdict"] for name, f in found.items()},
            "finding_details": found,
            "rows": [{"rows": [f"Table {t}: {label}" for t, label in v.rows],
                      "paper_top1": v.paper_top1, "params": v.params, "madds": v.madds,
                      "scores": v.scores, "top1": v.top1, "final_loss": v.final_loss,
                      "mean": v.mean} for v in variants]}


def markdown(record: dict, score: str) -> str:
    def pairs(r: dict) -> str:
        return f"{r['pairs_agree']} of {r['pairs']}"

    def tau(r: dict) -> str:
        return "n/a" if r["tau"] is None else f"{r['tau']:+.2f}"

    lines = [f"# The proxy against the paper's ablations ({record['task']})", "",
             f"{record['variants']} distinct variants of Mobile-Former-294M from Tables "
             f"{', '.join(TABLES)}, each trained with {record['seeds']} seed(s) by the proxy and "
             f"ranked by {score} (mean over the seeds), against the paper's ImageNet top-1. "
             f"Pairs: those whose published top-1 differs by at least {PAIR_GAP} points, and how "
             "many a ranking orders as the paper does (guessing orders half).", "",
             "| ranking by | pairs in the paper's order | Kendall tau |", "|---|---|---|",
             f"| the proxy ({score}) | {pairs(record)} | {tau(record)} |",
             *(f"| {name} alone | {pairs(r)} | {tau(r)} |"
               for name, r in (("#params", record["baselines"]["params"]),
                               ("MAdds", record["baselines"]["madds"]))), "",
             "Per table (the proxy): " + "; ".join(
                 f"Table {t}: tau {tau(r)}, {pairs(r)} pairs" for t, r in record["tables"].items())
             + ".", "",
             f"## The paper's findings (paired by seed; {CONFIDENCE:.0%} t intervals)", "",
             "| finding | table | difference | interval | verdict |", "|---|---|---|---|---|"]
    for f in record["finding_details"].values():
        band = "n/a" if f["interval"] is None else \
            f"[{f['interval'][0]:+.4f}, {f['interval'][1]:+.4f}]"
        lines.append(f"| {f['says']} | {f['table']} | {f['difference']:+.4f} | {band} | "
                     f"{f['verdict']} |")
    lines += ["", "## Rows", "", "| rows | paper top-1 | #params (M) | MAdds (M) | scores | mean | "
              "learned |", "|---|---|---|---|---|---|---|"]
    for r in record["rows"]:
        learned = "yes" if r.get("learned", True) else f"no: {r['did_not_learn_because']}"
        lines.append(f"| {'; '.join(r['rows'])} | {r['paper_top1']:g} | {r['params'] / 1e6:.2f} "
                     f"| {r['madds'] / 1e6:.1f} | {', '.join(f'{s:.4f}' for s in r['scores'])} "
                     f"| {r['mean']:.4f} | {learned} |")
    missing = [r for r in record["rows"] if not r.get("learned", True)]
    if missing:
        lines += ["", f"Warning: {len(missing)} of {len(record['rows'])} variants did not learn "
                  "under these settings; their place in the ranking says more about the settings "
                  "than about the design."]
    return "\n".join(lines) + "\n"


def write(record: dict, score: str, out: Path) -> list[Path]:
    """agreement.md and agreement.json in `out`."""
    md, js = out / "agreement.md", out / "agreement.json"
    md.write_text(markdown(record, score), encoding="utf-8")
    js.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return [md, js]
