"""A search's verdict checked by real training: the pick, the control and the baselines of a
finished search (its report.json) trained with `mfsearch train`'s recipe, K seeds each, on the
search's data or other images. Each training has its own folder under `verify/` and resumes
there; a finished one is never trained again. The result is an "On real training" section in
report.md and a `verified` section in report.json, in the confirmation's words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..errors import UserError
from ..families import spec_from_dict
from .confirm import CONFIDENCE, Candidate, Confirmation, Guessing, fmt_interval

SECTION = "## On real training"
FOLDER = "verify"


def read_report(run: Path) -> dict:
    path = run / "report.json"
    if not path.is_file():
        raise UserError(f"{run}: no report.json (verify takes the folder a search wrote)")
    report = json.loads(path.read_text(encoding="utf-8"))
    if not report.get("pick") or not report.get("control"):
        raise UserError(f"{run}: the search confirmed no pick against a control "
                        "(--finalists 0, or no trained candidate): nothing to verify")
    return report


def candidates(report: dict) -> list[tuple[str, str, object, int, int | None]]:
    """(name, role, spec, MAdds, trial) of the pick, the control and each baseline."""
    pick = report["pick"]
    rows = [(f"trial {pick['trial']}", "pick", spec_from_dict(pick["spec"]), pick["madds"],
             pick["trial"])]
    control = report["control"]
    rows.append((control["name"], "control", spec_from_dict(control["spec"]),
                 control["madds"], None))
    rows += [(b["name"], "baseline", spec_from_dict(b["spec"]), b["madds"], None)
             for b in report.get("baselines", [])]
    return rows


def folder_name(name: str, seed: int) -> str:
    return f"{name.replace(' ', '-')}-seed{seed}"


def verify_run(run: Path, train: Callable[[object, Path, int], dict], seeds: int,
               guessing: Guessing, log: Callable[[str], None] = print) -> Confirmation:
    """Train every candidate with seeds 0..seeds-1 (`train(spec, folder, seed)` returns the
    last history row; finished folders return theirs without training) and compare them as
    the confirmation does, by held-out top-1, those that learned on the data of `guessing`."""
    report = read_report(run)
    rows = candidates(report)
    made: dict[str, Candidate] = {}
    for name, role, spec, madds, trial in rows:
        c = made[role if role != "baseline" else name] = Candidate(name, spec, trial, madds,
                                                                    0)
        for seed in range(seeds):
            log(f"{name} ({role}), seed {seed}")
            last = train(spec, run / FOLDER / folder_name(name, seed), seed)
            c.scores.append(last["val_top1"])
            c.top1.append(last["val_top1"])
            c.final_loss.append(last["train_loss"])
    pick, control = made.pop("pick"), made.pop("control")
    baselines = list(made.values())
    pick.difference = [a - b for a, b in zip(pick.scores, control.scores)]
    pick.versus = {b.name: [a - x for a, x in zip(pick.scores, b.scores)] for b in baselines}
    return Confirmation(list(range(seeds)), [pick], control, baselines, guessing)


def record(run: Path, result: Confirmation, data: str, epochs: int, settings: dict) -> None:
    """The `verified` section of report.json and the "On real training" section of
    report.md (replacing an earlier one)."""
    path = run / "report.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    report["verified"] = {
        "data": data, "epochs": epochs, "seeds": result.seeds, "score": "held-out top-1",
        "settings": settings,
        "pick": result.pick.to_json(), "control": result.control.to_json(),
        "baselines": [b.to_json() for b in result.baselines],
        "beats_control": result.beats_control(result.pick), "verdict": result.verdict(),
        "baseline_verdicts": result.baseline_verdicts(), "warnings": result.warnings()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    md = run / "report.md"
    text = md.read_text(encoding="utf-8") if md.exists() else ""
    if SECTION in text:
        head, rest = text.split(SECTION, 1)
        after = rest.find("\n## ")
        text = head + (rest[after + 1:] if after >= 0 else "")
    md.write_text(text.rstrip("\n") + "\n\n" + "\n".join(markdown(result, data, epochs))
                  + "\n", encoding="utf-8")


def markdown(result: Confirmation, data: str, epochs: int) -> list[str]:
    rows = ["| candidate | MAdds (M) | top-1 per seed (seeds "
            f"{', '.join(map(str, result.seeds))}) | mean | {CONFIDENCE:.0%} interval | "
            "minus control | its interval |", "|---|---|---|---|---|---|---|"]
    for c in result.candidates():
        role = f" ({result.role(c)})"
        diff = (f"{sum(c.difference) / len(c.difference):+.4f} | "
                f"{fmt_interval(c.difference_interval)}" if c.difference else "- | -")
        rows.append(f"| {c.name}{role} | {c.madds / 1e6:.1f} | "
                    f"{', '.join(f'{s:.4f}' for s in c.scores)} | {c.mean:.4f} | "
                    f"{fmt_interval(c.interval)} | {diff} |")
    return [SECTION, "",
            f"`mfsearch verify` trained the pick, the control and the baselines for {epochs} "
            f"epochs on {data} (`mfsearch train`'s recipe), one training per seed, and ranks "
            "them by held-out top-1 of the final weights; the differences are paired by seed.",
            "", *rows, "", result.verdict(), "", *result.baseline_verdicts(),
            *(f"Warning: {w}" for w in result.warnings())]
