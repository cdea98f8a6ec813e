"""What a search leaves in its output folder: trials.csv, best.yaml, report.md, pareto.png."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import dataclasses

import optuna
import pandas as pd
from optuna.trial import TrialState

from ..data import Dataset
from ..families import family_of, spec_from_yaml
from ..fidelity.record import external_summary, fidelity_summary, load_record
from ..figures import new_figure, save_figure
from .settings import SearchSettings
from .trials import best_trained, evaluated, proxy_score, trained
from .workers import describe, repeatability

STATE = {TrialState.COMPLETE: "trained", TrialState.PRUNED: "infeasible",
         TrialState.FAIL: "failed", TrialState.RUNNING: "running", TrialState.WAITING: "queued"}


def _pillar_names(trials) -> list[str]:
    """The family's pillars, in order, as the trials recorded them."""
    names: dict[str, None] = {}
    for t in trials:
        names.update(dict.fromkeys(t.user_attrs.get("pillars", {})))
    return list(names)


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    rows = []
    trials = study.get_trials(deepcopy=False)
    pillars = _pillar_names(trials)
    with_latency = any("latency_ms" in t.user_attrs for t in trials)
    for t in trials:
        a = t.user_attrs
        twin = a.get("duplicate_of")
        state = "duplicate" if twin is not None else STATE.get(t.state, t.state.name.lower())
        if state == "infeasible" and a.get("steps_trained"):
            state = "pruned"  # stopped at a rung, not rejected by the band
        row = {"trial": t.number, "state": state,
               **{f"p_{k}": v for k, v in t.params.items()},
               "params": a.get("params"), "madds": a.get("madds"),
               **({"latency_ms": a.get("latency_ms")} if with_latency else {}),
               **{f"madds_{k}": a.get("pillars", {}).get(k) for k in pillars},
               "proxy_score": proxy_score(t) if t.state == TrialState.COMPLETE else None,
               "steps": a.get("steps_trained"), "rung_score": a.get("rung_score"),
               "proxy_top1": a.get("proxy_top1"), "train_loss": a.get("train_loss"),
               "train_seconds": a.get("train_seconds"),
               "reason": a.get("reject_reason") or a.get("fail_reason")
               or ("interrupted" if t.state == TrialState.FAIL else None)
               or (f"same architecture as trial {twin}" if twin is not None else None),
               "retry_of": a.get("retry_of")}
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in ("params", "madds", "steps", "retry_of", *[f"madds_{k}" for k in pillars]):
        if col in frame:
            frame[col] = frame[col].astype("Int64")
    for col in (c for c in frame.columns if c.startswith("p_")):
        # A column with gaps (a parameter some trials never sampled) reads as float: the
        # sampled choices are integers, and trials.csv says so.
        values = frame[col].dropna()
        if len(values) and all(float(v).is_integer() for v in values):
            frame[col] = frame[col].astype("Int64")
    return frame


def pareto_trials(points: list[tuple[float, int]]) -> list[int]:
    """Indices of the (score up, cost down) Pareto front, via Optuna's own front."""
    if not points:
        return []
    front_study = optuna.create_study(directions=["maximize", "minimize"])
    dist = optuna.distributions.IntDistribution(0, len(points) - 1)
    front_study.add_trials([optuna.trial.create_trial(values=[acc, madds], params={"i": i},
                                                      distributions={"i": dist})
                            for i, (acc, madds) in enumerate(points)])
    return sorted(t.params["i"] for t in front_study.best_trials)


def trial_family(trial: optuna.trial.FrozenTrial):
    """The family of a recorded candidate, read from the spec it stores."""
    return family_of(spec_from_yaml(trial.user_attrs["spec"], f"trial {trial.number}"))


def pillar_groups(trials: list[optuna.trial.FrozenTrial]) -> dict[str, tuple[str, ...]]:
    """The pillar groups the leaderboard shows: those of the first candidate's family."""
    if not trials:
        return {}
    family = trial_family(trials[0])
    return family.display.groups(family.pillars)


def pruned(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Candidates stopped at a rung, the furthest and best first."""
    stopped = [t for t in evaluated(study) if t.state == TrialState.PRUNED]
    return sorted(stopped, key=lambda t: (-t.user_attrs["steps_trained"],
                                          -t.user_attrs["rung_score"]))


def leaderboard(study: optuna.Study) -> pd.DataFrame:
    """Every evaluated candidate: the trained ones by proxy score, then those a rung stopped
    (by the rung they reached, then their score there, which is no full score)."""
    done = sorted(trained(study), key=lambda t: -proxy_score(t))
    stopped = pruned(study)
    groups = pillar_groups(done or stopped)
    rows = []
    for rank, t in enumerate([*done, *stopped], 1):
        a = t.user_attrs
        p = a["pillars"]
        full = t.state == TrialState.COMPLETE
        row = {"rank": rank, "trial": t.number,
               "state": "trained" if full else f"pruned at {a['steps_trained']}",
               "proxy score": round(proxy_score(t), 4) if full else "-",
               "rung score": "-" if full else round(a["rung_score"], 4),
               "steps": a.get("steps_trained"),
               "proxy top-1": round(a["proxy_top1"], 4) if full else "-"}
        if "latency_ms" in a:
            row["latency (ms)"] = round(a["latency_ms"], 2)
        row["MAdds (M)"] = round(a["madds"] / 1e6, 2)
        row.update({name: round(sum(p[k] for k in keys) / 1e6, 1)
                    for name, keys in groups.items()})
        row.update({"params (M)": round(a["params"] / 1e6, 2), "train s": a.get("train_seconds")})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if len(frame) and not (frame["state"] != "trained").any():
        frame = frame.drop(columns=["state", "rung score"])
    return frame


def draw_candidates(ax, points: list[tuple[float, float]], scale: float = 1e6) -> None:
    """Trained candidates (proxy score, cost) and their Pareto front, at cost / scale."""
    if not points:
        return
    ax.scatter([m / scale for _, m in points], [a for a, _ in points], s=22, alpha=0.6,
               label=f"trained candidates ({len(points)})")
    front = sorted((points[i] for i in pareto_trials(points)), key=lambda p: p[1])
    ax.plot([m / scale for _, m in front], [a for a, _ in front], "o-", color="C3",
            label="Pareto front")


def plot_front(study: optuna.Study, settings: SearchSettings, path: Path) -> None:
    fig, ax = new_figure(figsize=(7, 4.5))
    band = settings.band
    by_latency = band.metric == "latency" or "latency" in settings.objectives
    key, scale = ("latency_ms", 1.0) if by_latency else ("madds", 1e6)
    draw_candidates(ax, [(proxy_score(t), t.user_attrs[key]) for t in trained(study)], scale)
    stopped = pruned(study)
    if stopped:
        ax.scatter([t.user_attrs[key] / scale for t in stopped],
                   [t.user_attrs["rung_score"] for t in stopped], marker="x", s=18, color="0.5",
                   label=f"pruned at a rung ({len(stopped)}; score at that rung)")
    if by_latency == (band.metric == "latency"):  # the band is on this axis
        ax.axvspan(band.low / scale, band.budget / scale, color="0.9", zorder=0,
                   label="budget band")
    ax.set_xlabel("predicted latency (ms, this machine's lookup table)" if by_latency else
                  f"MAdds (M, {band.convention} convention, {band.resolution}x{band.resolution})")
    ax.set_ylabel(f"proxy score: {settings.proxy.describe_score()}\n(higher is better)")
    ax.set_title(f"Search: proxy score vs {'latency' if by_latency else 'MAdds'}")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def write_outputs(study: optuna.Study, settings: SearchSettings, out: Path, data: Dataset,
                  command: str, confirmation=None, timing: dict | None = None
                  ) -> dict[str, Path]:
    """trials.csv, best.yaml (the confirmed pick, or the best proxy score without a
    confirmation), report.md, report.json and pareto.png; `timing` (`SearchResult.timing`)
    says what a time limit bought."""
    from .confirm import markdown

    data_name, data_text = data.name, data.describe(settings.proxy.resolution)

    out.mkdir(parents=True, exist_ok=True)
    paths = {"trials": out / "trials.csv", "best": out / "best.yaml", "report": out / "report.md",
             "json": out / "report.json", "plot": out / "pareto.png"}
    frame = trials_frame(study)
    frame.to_csv(paths["trials"], index=False)
    done = trained(study)
    board = leaderboard(study)
    if done:
        best = (study.trials[confirmation.pick.trial] if confirmation is not None
                else best_trained(done))
        _atomic_write(paths["best"], provenance(best, settings, command, data)
                      + best.user_attrs[
            "spec"].replace(f"name: trial-{best.number}", f"name: search-best-trial-{best.number}",
                            1))
    plot_front(study, settings, paths["plot"])
    band, proxy = settings.band, settings.proxy
    record = load_record(settings.fidelity_record) if settings.fidelity_record else None
    states = frame["state"].value_counts().to_dict() if len(frame) else {}
    lines = [
        "# mfsearch budget report", "",
        f"Command: `{command}`", "",
        f"- budget: {band.describe()}, band [{band.fmt(band.low)}, {band.fmt(band.budget)}] "
        f"(tolerance {band.tolerance:g})",
        f"- space: {settings.space.name}; objectives: {', '.join(settings.objectives)}; "
        f"sampler: {settings.sampler}; seed {settings.seed}",
        f"- proxy: {proxy.steps} AdamW steps, batch {proxy.batch_size}, {proxy.resolution}x"
        f"{proxy.resolution}, lr {proxy.lr:g} cosine, data {data_name}; score: "
        f"{proxy.describe_score()} (higher is better)",
        f"- data: {data_text}",
        *([f"- classes: {', '.join(data.classes)}"] if data.classes else []),
        f"- procedure: {settings.procedure()}",
        *([time_line(timing)] if timing else []),
        *([f"- trainings: {describe(settings)}; {repeatability(settings)}"]
          if settings.workers() else []),
        f"- trials: {json.dumps(states)}", "",
        "## Proxy fidelity", "", fidelity_summary(proxy, data_name, band.label(),
                                                    settings.space.family, record), "",
        external_summary(), "",
        "## Leaderboard (ranked by the proxy's score; top-1 is on the search's data, not "
        "ImageNet accuracy; candidates a rung stopped follow, with their score at that rung)",
        "",
        board.to_markdown(index=False) if len(board) else "_no trained candidates yet_", "",
        "MAdds columns in millions" + "".join(
            f"; `{name}` is {' + '.join(f'`{p}`' for p in pillars)}"
            for name, pillars in pillar_groups(done).items()
            if len(pillars) > 1)
        + ("; latency predicted from this machine's lookup table (`mfsearch latency-table` "
           "reports its error)" if "latency (ms)" in board else "") + ".", "",
        *(markdown(confirmation, settings) if confirmation is not None else []),
        "Files: `trials.csv` (every trial), `best.yaml` (the pick: `mfsearch cost best.yaml`), "
        "`report.json` (this report's figures), `pareto.png`.", ""]
    _atomic_write(paths["report"], "\n".join(lines))
    _atomic_write(paths["json"], json.dumps(
        {**report_json(confirmation, study, settings), "data": data_name,
         **({"time": timing} if timing else {})}, indent=2) + "\n")
    return paths


def time_line(timing: dict) -> str:
    """The report's line on the time limit: what the time bought and what the run took."""
    from .timing import clock

    bought = timing["bought"] or "planned after the first candidate (none trained)"
    stopped = f"; stopped early: {timing['stopped']}" if timing["stopped"] else ""
    return (f"- time limit {timing['limit']}: {bought}; the run took "
            f"{clock(timing['seconds'])}{stopped}")


def provenance(trial: optuna.trial.FrozenTrial, settings: SearchSettings, command: str,
               data: Dataset) -> str:
    """The comment block best.yaml opens with: where the spec came from, and why its head
    may not have the data's classes."""
    from .. import __version__

    band = settings.band
    lines = [f"made by: {command}" if command else "made by: mfsearch",
             f"date: {datetime.date.today().isoformat()}; mfsearch {__version__}",
             f"trial {trial.number}: proxy score {proxy_score(trial):.4f} "
             f"({settings.proxy.describe_score()}), {band.fmt(trial.user_attrs['madds'])} "
             f"MAdds" if band.metric == "madds" else
             f"trial {trial.number}: proxy score {proxy_score(trial):.4f}, "
             f"{trial.user_attrs.get('latency_ms', float('nan')):.2f} ms predicted",
             f"band: [{band.fmt(band.low)}, {band.fmt(band.budget)}] {band.describe()}",
             f"searched on {data.name} ({data.num_classes} classes); the head below keeps "
             f"num_classes {spec_head(trial)}, as the band's costs count it (ImageNet-style); "
             "`mfsearch train` sets it to the data's classes"]
    return "".join(f"# {line}\n" for line in lines)


def spec_head(trial: optuna.trial.FrozenTrial) -> int:
    return spec_from_yaml(trial.user_attrs["spec"], f"trial {trial.number}").num_classes


def _atomic_write(path: Path, text: str) -> None:
    """Write beside, then rename: an interrupted write never leaves a half file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def rung_counts(study: optuna.Study, settings: SearchSettings) -> list[dict]:
    """How many candidates reached each rung (trained at least that many steps)."""
    steps = [t.user_attrs.get("steps_trained", settings.proxy.steps) for t in evaluated(study)]
    return [{"steps": r, "candidates": sum(s >= r for s in steps)} for r in settings.rungs]


def report_json(result, study: optuna.Study, settings: SearchSettings) -> dict:
    """report.json: the budget as given, the band, the procedure and its rungs, where the
    trainings ran, and the confirmation (`result`, a `confirm.Confirmation`, or None)."""
    band = settings.band
    data = {"budget": band.given if band.given is not None else band.budget,
            "proxy": dataclasses.asdict(settings.proxy),
            "band": {"low": band.low, "high": band.budget, "metric": band.metric},
            "procedure": settings.procedure(), "rungs": rung_counts(study, settings)}
    if settings.workers():
        data["trainings"] = {"workers": settings.workers(), "cuda": dataclasses.asdict(
            settings.cuda), "repeats": repeatability(settings)}
    if result is None:
        return {**data, "finalists": [], "control": None, "pick": None,
                "verdict": "no confirmation (no trained candidate, or --finalists 0)"}
    pick = result.pick
    return {**data, "seeds": result.seeds,
            "finalists": [c.to_json() for c in result.finalists],
            "control": result.control.to_json() if result.control else None,
            "baselines": [b.to_json() for b in result.baselines],
            "pick": {"trial": pick.trial, "spec": pick.spec.to_dict(), "madds": pick.madds},
            "beats_control": bool(result.control) and result.beats_control(pick),
            "verdict": result.verdict(), "baseline_verdicts": result.baseline_verdicts(),
            "warnings": result.warnings()}
