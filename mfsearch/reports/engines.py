"""Every shipped variant in every engine: exported once per engine and checked against torch,
then timed in that engine by the latency harness, with per-pillar time shares next to the
MAdds shares where the engine's profiler gives them (reports/engines)."""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path

import pandas as pd
import torch

from ..deploy import Engine, export_model
from ..errors import UserError
from ..families import (all_families, analyze, build_model, get_family, load_model_spec,
                        variant_names)
from ..latency.measure import machine, measure
from ..latency.settings import LatencySettings
from .files import claim, remember
from ..figures import new_figure
from .plots import save

FILES = ("engines.md", "latency.csv", "pillars.csv", "madds_vs_latency.png",
         "madds_vs_latency.svg")
MARKERS = {"torch": "o-", "onnxruntime": "s--", "executorch": "^:"}


def settings_for(engine: Engine, threads: int, min_time: float) -> LatencySettings:
    return LatencySettings(threads=threads, min_time=min_time, engine=engine.name,
                           memory_format="contiguous" if engine.exports else "auto")


def measure_variant(spec, cost, engine: Engine, threads: int, min_time: float, folder: Path):
    """(row, pillar rows) of one variant in one engine; an export that fails is recorded with
    its one-line reason instead of a time."""
    torch.manual_seed(0)
    model = build_model(spec, 224).eval()
    row = {"model": spec.name, "family": spec.family, "engine": engine.name}
    exported, notes = None, []
    if engine.exports:
        try:
            result = export_model(model, engine, folder / f"{spec.name}{engine.suffix}",
                                  name=spec.name)
        except UserError as exc:
            return {**row, "error": str(exc)}, []
        exported, notes = result.path, result.notes
        row |= {"max_abs_diff": result.max_abs, "max_rel_diff": result.max_rel,
                "export_ok": result.ok, "export_s": round(result.seconds, 1)}
    report = measure(model, spec.name, settings_for(engine, threads, min_time),
                     throughput_batch=None, breakdown=True, exported=exported)
    if exported is not None:
        exported.unlink()
    row |= {"latency_ms": round(report.latency.median_ms, 3),
            "iqr_ms": round(report.latency.iqr_ms, 3), "engine_version": report.engine,
            "notes": "; ".join(notes + report.notes)}
    total = cost.madds("paper")
    pillars = []
    timed = sum((report.pillars or {}).values())
    for name in [*cost.pillar_names, "other"]:
        ms = (report.pillars or {}).get(name)
        madds = cost.pillar(name).madds("paper") if name in cost.pillar_names else 0
        if ms is None and not madds:
            continue
        pillars.append({"model": spec.name, "engine": engine.name, "pillar": name,
                        "madds_share": round(madds / total, 4),
                        "ms": None if ms is None else round(ms, 3),
                        "time_share": None if ms is None else round(ms / timed, 4)})
    return row, pillars


def measure_engines(engines: list[Engine], threads: int, min_time: float,
                    max_madds: float = float("inf"), log=print) -> tuple[pd.DataFrame,
                                                                          pd.DataFrame]:
    rows, pillars = [], []
    specs = [load_model_spec(n) for f in all_families() for n in variant_names(f)]
    specs = [s for s in specs if analyze(s).madds("core") <= max_madds]
    with tempfile.TemporaryDirectory() as tmp:
        for i, spec in enumerate(specs, 1):
            cost = analyze(spec, 224)
            for engine in engines:
                row, parts = measure_variant(spec, cost, engine, threads, min_time, Path(tmp))
                rows.append({"params_M": round(cost.params / 1e6, 3),
                             "madds_M": round(cost.madds("paper") / 1e6, 1), **row})
                pillars += parts
                said = row.get("error") or (f"{row['latency_ms']:.2f} ms (IQR "
                                            f"{row['iqr_ms']:.2f})" + (
                    f", max rel diff {row['max_rel_diff']:.1e}" if "max_rel_diff" in row
                    else ""))
                log(f"[{i}/{len(specs)}] {spec.name} in {engine.name}: {said}")
    return pd.DataFrame(rows), pd.DataFrame(pillars)


def plot(frame: pd.DataFrame, stem: Path) -> list[Path]:
    fig, ax = new_figure(figsize=(7.5, 5))
    timed = frame.dropna(subset=["latency_ms"])
    for (family, engine), pts in timed.groupby(["family", "engine"], sort=False):
        fam = get_family(family)
        pts = pts.sort_values("madds_M")
        ax.plot(pts["madds_M"], pts["latency_ms"], MARKERS.get(engine, "x-"), color=fam.display.colour,
                label=f"{fam.display.title}, {engine}", markersize=5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("MAdds (M, paper convention, 224x224)")
    ax.set_ylabel("measured latency (ms, batch 1, this CPU)")
    ax.set_title("MAdds vs latency per engine")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, stem)


def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: latency (IQR) and the export check per engine."""
    out = frame[["model", "family", "params_M", "madds_M"]].drop_duplicates("model")
    out = out.set_index("model")
    for engine, rows in frame.groupby("engine", sort=False):
        rows = rows.set_index("model")
        text = rows.apply(lambda r: r["error"] if pd.notna(r.get("error")) else
                          f"{r['latency_ms']:.2f} ({r['iqr_ms']:.2f})", axis=1)
        out[f"{engine} ms (IQR)"] = text
        if "max_rel_diff" in rows and rows["max_rel_diff"].notna().any():
            out[f"{engine} max rel diff"] = rows["max_rel_diff"].map(
                lambda v: "-" if pd.isna(v) else f"{v:.1e}")
    return out.reset_index()


def _shares(pillars: pd.DataFrame) -> pd.DataFrame:
    """Per variant and pillar: the MAdds share and each engine's time share (%)."""
    timed = pillars.dropna(subset=["time_share"])
    if timed.empty:
        return timed
    shares = timed.pivot_table(index=["model", "pillar"], columns="engine",
                               values="time_share", sort=False) * 100
    madds = pillars.drop_duplicates(["model", "pillar"]).set_index(["model", "pillar"])
    shares.insert(0, "MAdds", madds["madds_share"] * 100)
    return shares.round(1).add_suffix(" %").reset_index()


def write(frames: tuple[pd.DataFrame, pd.DataFrame], out: Path, command: str,
          threads: int, min_time: float = 1.0) -> Path:
    frame, pillars = frames
    out.mkdir(parents=True, exist_ok=True)
    claim(out, FILES)
    frame.to_csv(out / "latency.csv", index=False)
    pillars.to_csv(out / "pillars.csv", index=False)
    plot(frame, out / "madds_vs_latency")
    m = machine()
    versions = ", ".join(dict.fromkeys(frame["engine_version"].dropna()))
    failed = frame[frame["error"].notna()] if "error" in frame else frame.iloc[:0]
    lines = [
        "# Engines: every variant in every runtime", "",
        f"Command: `{command}` ({datetime.date.today().isoformat()})", "",
        f"Each variant (random weights, seed 0) in its deployed form (BN folded, eval) is "
        f"exported once per engine and checked against torch on another input (batch 2 for "
        f"ONNX, whose batch stays dynamic; max relative difference = max abs difference over "
        f"the largest torch output), then timed by the latency harness: batch 1, 224x224, "
        f"{threads} thread(s), median and IQR of >= {min_time:g} s of runs after warm-up. "
        f"Engines: "
        f"{versions}; {m['cpu']}.", "",
        _wide(frame).to_markdown(index=False), "",
        "Exports that failed: " + ("none." if failed.empty else "; ".join(
            f"{r.model} in {r.engine}: {r.error}" for r in failed.itertuples())), "",
        "Notes from the exports (ops left outside a delegate, what a profiler exposes):", "",
        *[f"- {r.model}, {r.engine}: {r.notes}" for r in frame.itertuples()
          if isinstance(getattr(r, "notes", None), str) and r.notes], "",
        "## Where the time goes, per engine", "",
        "Time share of each pillar (torch: module hooks; onnxruntime: its profiler's per-node "
        "kernel times, nodes named by pillar at export; ExecuTorch's Python runtime gives "
        "whole-model time only) next to the pillar's MAdds share.", "",
        _shares(pillars).to_markdown(index=False), "",
        "![MAdds vs latency per engine](madds_vs_latency.png)", ""]
    path = out / "engines.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    remember(out, FILES)
    return path
