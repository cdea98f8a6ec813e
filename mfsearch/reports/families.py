"""Every registered family side by side: params, MAdds, CPU latency measured on this machine,
published top-1, and MAdds against measured latency across the families."""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
from matplotlib.ticker import FuncFormatter
from scipy import stats

from ..families import (all_families, analyze, build_model, family_of, get_family, load_model_spec,
                        variant_names)
from ..latency.measure import measure
from ..latency.settings import LatencySettings
from ..figures import new_figure
from .plots import save
from .files import claim, remember
from .published import published_by_name


def measure_families(settings: LatencySettings, max_madds: float, log=print) -> pd.DataFrame:
    published = published_by_name()
    rows = []
    names = [n for f in all_families() for n in variant_names(f)]
    for name in names:
        spec = load_model_spec(name)
        cost = analyze(spec, settings.resolution)
        if cost.madds("core") > max_madds:
            continue
        report = measure(build_model(spec, settings.resolution), name, settings,
                         throughput_batch=None, breakdown=False)
        pub = published.get(family_of(spec).published_name(name))
        rows.append({"model": name, "family": spec.family, "params_M": round(cost.params / 1e6, 3),
                     "madds_M": round(cost.madds("paper") / 1e6, 1),
                     "latency_ms": round(report.latency.median_ms, 2),
                     "iqr_ms": round(report.latency.iqr_ms, 2),
                     "memory_format": report.memory_format,
                     "top1": None if pub is None else float(pub["top1"]),
                     "published_latency_ms": None if pub is None or pd.isna(pub["latency_ms"])
                     else float(pub["latency_ms"]),
                     "published_device": None if pub is None or pd.isna(pub["latency_device"])
                     else pub["latency_device"]})
        log(f"{name}: {rows[-1]['latency_ms']:.2f} ms (IQR {rows[-1]['iqr_ms']:.2f}), "
            f"{rows[-1]['madds_M']:.0f}M MAdds")
    return pd.DataFrame(rows)


def plot(frame: pd.DataFrame, stem: Path) -> list[Path]:
    fig, axes = new_figure(1, 2, figsize=(12, 4.6))
    for family, pts in frame.groupby("family", sort=False):
        fam = get_family(family)
        title, colour = fam.display.title, fam.display.colour
        pts = pts.sort_values("madds_M")
        axes[0].plot(pts["madds_M"], pts["latency_ms"], "o-", color=colour, label=title)
        top = pts.dropna(subset=["top1"])
        axes[1].plot(top["latency_ms"], top["top1"], "o-", color=colour, label=title)
        for _, r in pts.iterrows():
            short = fam.display.short_name(r["model"], fam.variant_prefix)
            axes[0].annotate(short, (r["madds_M"], r["latency_ms"]), textcoords="offset points",
                             xytext=(4, -9), fontsize=7, color=colour)
            if pd.notna(r["top1"]):
                axes[1].annotate(short, (r["latency_ms"], r["top1"]),
                                 textcoords="offset points", xytext=(4, -9), fontsize=7,
                                 color=colour)
    axes[0].set_xscale("log")
    axes[0].set_yscale("log")
    axes[0].set_xlabel("MAdds (M, paper convention, 224x224)")
    axes[0].set_ylabel("measured CPU latency (ms, batch 1)")
    axes[0].set_title("MAdds are not latency")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("measured CPU latency (ms, batch 1)")
    axes[1].set_ylabel("published ImageNet top-1 (%)")
    axes[1].set_title("Published top-1 vs latency on this machine")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    # minor ticks labelled only at 2x, 3x and 5x a power of ten, so labels do not collide
    sparse = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:e}"[0] in "235" else "")
    for ax in axes:
        for axis in ([ax.xaxis, ax.yaxis] if ax is axes[0] else [ax.xaxis]):
            axis.set_major_formatter(plain)
            axis.set_minor_formatter(sparse)
        ax.tick_params(which="minor", labelsize=7)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, stem)


FILES = ("side_by_side.md", "side_by_side.csv", "madds_vs_latency.png", "madds_vs_latency.svg")


def write(frame: pd.DataFrame, settings: LatencySettings, machine: dict, out: Path,
          command: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    claim(out, FILES)
    frame.to_csv(out / "side_by_side.csv", index=False)
    plot(frame, out / "madds_vs_latency")
    tau = stats.kendalltau(frame["madds_M"], frame["latency_ms"]).statistic
    per_gmac = frame.assign(ms_per_gmac=frame["latency_ms"] / (frame["madds_M"] / 1e3))
    speed = per_gmac.groupby("family")["ms_per_gmac"].median()
    families = [get_family(f) for f in dict.fromkeys(frame["family"])]
    titles = [f.display.title for f in families]
    named = titles[0] if len(titles) == 1 else f"{', '.join(titles[:-1])} and {titles[-1]}"
    counted = "; ".join(f"{f.display.title}: the {'BN-folded' if f.folded else 'unfolded'} network"
                        for f in families)
    lines = [
        f"# {named} side by side", "",
        f"Command: `{command}` ({datetime.date.today().isoformat()})", "",
        f"Latency: median of `torch.utils.benchmark` runs (>= {settings.min_time:g} s after "
        f"warm-up), batch {settings.batch}, {settings.resolution}x{settings.resolution}, "
        f"{settings.threads} thread(s), {settings.device}, BN folded, inference mode, the faster "
        f"memory format per model; {machine['cpu']}, torch {machine['torch']}. Params and MAdds "
        f"from the analytic cost model, each family as its paper counts ({counted}); top-1 "
        "and the published latency (another device) are the papers'.", "",
        frame.astype(object).where(frame.notna(), None).to_markdown(index=False,
                                                                    missingval="-"), "",
        f"Kendall tau between MAdds and measured latency across the families: {tau:+.3f}. "
        "Median latency per GMAC on this CPU: "
        + ", ".join(f"{get_family(f).display.title} {v:.1f} ms" for f, v in speed.items()) + ".", "",
        "![MAdds vs latency](madds_vs_latency.png)", ""]
    path = out / "side_by_side.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    remember(out, FILES)
    return path
