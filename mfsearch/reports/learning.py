"""Whether each shipped variant learned under its family's default proxy (`mfsearch variants
--train`): learn.md for people, learn.json for `reports/external_validity.json`."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from ..families import get_family


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return round(sum(finite) / len(finite), 4) if len(finite) == len(values) and finite else None


def learning_record(found: list, guessing, task: str, data: str, proxy, seeds: int) -> dict:
    """`found`: (family name, `mfsearch.nas.confirm.Candidate` with its seeds' outcomes)."""
    variants = {}
    for family, c in found:
        because = guessing.shortfall(c)
        variants[c.name] = {
            "family": family, "params": c.params, "madds": c.madds, "learned": not because,
            "did_not_learn_because": because or None,
            "final_loss": [None if not math.isfinite(x) else round(x, 4) for x in c.final_loss],
            "top1": [round(x, 4) for x in c.top1], "mean_final_loss": _mean(c.final_loss),
            "mean_top1": _mean(c.top1)}
    return {"task": task, "data": data, "seeds": seeds,
            "proxy": {k: v for k, v in asdict(proxy).items() if k not in ("seed", "device")},
            "criterion": guessing.criterion(), "guessing_loss": round(guessing.loss, 4),
            "chance_top1": round(guessing.top1, 4), "variants": variants,
            "all_learn": all(v["learned"] for v in variants.values())}


def markdown(record: dict) -> str:
    p = record["proxy"]
    learned = sum(v["learned"] for v in record["variants"].values())
    lines = [f"# Does every shipped variant learn under the default proxy? ({record['task']})",
             "",
             f"Data: {record['data']}. Proxy: {p['steps']} steps, batch {p['batch_size']}, "
             f"{p['resolution']} px, lr {p['lr']:g}, warm-up {p['warmup']}, label smoothing "
             f"{p['label_smoothing']:g}, each family's own initialisation; {record['seeds']} "
             "seed(s) per variant.",
             "",
             f"Learned means: {record['criterion']}.",
             "",
             f"**{learned} of {len(record['variants'])} variants learned.**",
             "",
             "| family | variant | final loss per seed | mean | held-out top-1 per seed | "
             "learned |",
             "|---|---|---|---|---|---|"]
    for name, v in record["variants"].items():
        losses = ", ".join("diverged" if x is None else f"{x:.3f}" for x in v["final_loss"])
        top1 = ", ".join(f"{x:.3f}" for x in v["top1"])
        mean = "-" if v["mean_final_loss"] is None else f"{v['mean_final_loss']:.3f}"
        verdict = "yes" if v["learned"] else f"**no**: {v['did_not_learn_because']}"
        lines.append(f"| {get_family(v['family']).display.title} | {name} | {losses} | {mean} "
                     f"| {top1} | {verdict} |")
    lines += ["", f"Guessing scores a loss of {record['guessing_loss']:.3f} and top-1 "
              f"{record['chance_top1']:.3f}. `trainings.jsonl` holds every training: a rerun "
              "with more seeds trains only what is missing.", ""]
    return "\n".join(lines)


def write(record: dict, out: Path) -> list[Path]:
    """learn.md and learn.json in `out`."""
    md, js = out / "learn.md", out / "learn.json"
    md.write_text(markdown(record), encoding="utf-8")
    js.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return [md, js]
