"""Figures: published top-1 against cost per family (the paper's Figure 2 style), a search study's
proxy scores with its Pareto front, and where the MAdds of each variant go, pillar by pillar."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import UserError
from ..families import DEFAULT_FAMILY, analyze, get_family, load_model_spec, variant_names
from ..figures import colormap, new_figure, save_figure
from ..nas.outputs import draw_candidates, pareto_trials
from .files import claim, remember
from .published import highlight, load_published, pick_families, primary

# Reproducible files: no timestamps, fixed SVG ids (save_figure).
FORMATS = ("png", "svg")
_AXES = {"madds": ("madds_M", "MAdds", "M"), "params": ("params_M", "#Param", "M")}


def save(fig, stem: Path, formats=FORMATS) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        save_figure(fig, path, dpi=130,
                    metadata={"Date": None} if fmt == "svg" else {"Software": None})
        paths.append(path)
    return paths


def _family_front(points: pd.DataFrame, x: str) -> pd.DataFrame:
    """The family's best top-1 per cost (its Pareto front), sorted by cost: the line we draw."""
    front = pareto_trials(list(zip(points["top1"], points[x])))
    return points.iloc[front].sort_values(x)


def _draw_families(ax, frame: pd.DataFrame, families: list[str], x: str) -> None:
    colours = [c for j, c in enumerate(colormap("tab20").colors) if j not in (6, 7)]  # no reds
    bold = highlight()
    shown = get_family(DEFAULT_FAMILY)
    for i, family in enumerate(families):
        pts = frame[(frame["family"] == family) & frame[x].notna() & frame["top1"].notna()]
        if pts.empty:
            continue
        main = family == bold
        colour = shown.display.colour if main else colours[i % len(colours)]
        front = _family_front(pts, x)
        ax.scatter(pts[x], pts["top1"], s=40 if main else 14, color=colour, alpha=0.9 if main
                   else 0.55, zorder=3 if main else 2, edgecolors="none")
        ax.plot(front[x], front["top1"], "-", color=colour, lw=2.6 if main else 1.2,
                zorder=3 if main else 2, label=family)
        if main:
            for _, r in front.iterrows():
                ax.annotate(shown.display.short_name(r["model"].lower(), shown.variant_prefix), (r[x], r["top1"]),
                            textcoords="offset points", xytext=(5, -9), fontsize=7,
                            color=colour)


def plot_published(frame: pd.DataFrame, families: list[str], axis: str, out: Path,
                   logx: bool = False, max_x: float | None = None) -> list[Path]:
    """Top-1 against MAdds or params for the chosen families; one line per family."""
    x, name, unit = _AXES[axis]
    data = frame if max_x is None else frame[frame[x] <= max_x]
    fig, ax = new_figure(figsize=(9, 6))
    _draw_families(ax, data, families, x)
    if logx:
        ax.set_xscale("log")
    limit = "" if max_x is None else f", models up to {max_x:g}{unit}"
    ax.set_xlabel(f"{name} ({unit}){' (log scale)' if logx else ''}")
    ax.set_ylabel("ImageNet top-1 (%)")
    ax.set_title(f"Published ImageNet top-1 vs {name}{limit}\n"
                 "(lines join each family's best accuracy per cost)", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", ncol=2)
    fig.tight_layout()
    return save(fig, out)


def plot_latency(frame: pd.DataFrame, families: list[str], out: Path, min_points: int = 3,
                 logx: bool = False) -> list[Path]:
    """Top-1 against reported latency, one panel per device (latencies of different devices
    are not comparable). Takes every report of a model, since latencies often come from a later
    paper's re-measurement; one point per model and device."""
    timed = frame[frame["latency_ms"].notna() & frame["family"].isin(families)]
    timed = timed.drop_duplicates(subset=["model", "latency_device"])
    counts = timed["latency_device"].value_counts()
    devices = [d for d, n in counts.items() if n >= min_points]
    cols = min(2, max(1, len(devices)))
    rows = max(1, -(-len(devices) // cols))
    fig, axes = new_figure(rows, cols, figsize=(6.5 * cols, 4.8 * rows), squeeze=False)
    for ax, device in zip(axes.flat, devices):
        _draw_families(ax, timed[timed["latency_device"] == device], families, "latency_ms")
        if logx:
            ax.set_xscale("log")
        ax.set_title(device, fontsize=10)
        ax.set_xlabel("reported latency (ms)")
        ax.set_ylabel("ImageNet top-1 (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(devices):]:
        ax.axis("off")
    fig.suptitle("Published top-1 vs published latency, per measuring device", fontsize=12)
    fig.tight_layout()
    return save(fig, out)


def plot_study(trials: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """A search run's trained candidates and their Pareto front (the proxy's score, what the
    search ranked by; not ImageNet accuracy)."""
    done = trials[trials["state"] == "trained"]
    fig, ax = new_figure(figsize=(8, 5))
    draw_candidates(ax, list(zip(done["proxy_score"], done["madds"])))
    ax.set_xlabel("MAdds (M)")
    ax.set_ylabel("proxy score (higher is better)")
    ax.set_title(f"Search {name}: proxy score vs MAdds\n(a short training on the search's "
                 "data ranks the candidates - not ImageNet top-1)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return save(fig, out)


def plot_pillars(out: Path, convention: str = "paper", resolution: int = 224,
                 family: str = DEFAULT_FAMILY) -> list[Path]:
    """Stacked MAdds per pillar for a family's shipped variants, with its share group's share
    (the Former + bridge of Mobile-Former)."""
    fam = get_family(family)
    names = variant_names(fam.name)
    costs = [analyze(load_model_spec(n), resolution) for n in names]
    fig, (ax, ax_share) = new_figure(1, 2, figsize=(14, 6), width_ratios=(3, 2))
    labels = [fam.display.short_name(n, fam.variant_prefix) for n in names]
    colours = colormap("tab10").colors
    bottoms = [0.0] * len(costs)
    share_bottoms = [0.0] * len(costs)
    for i, pillar in enumerate(fam.pillars):
        values = [c.pillar(pillar).madds(convention) / 1e6 for c in costs]
        shares = [100 * v * 1e6 / c.madds(convention) for v, c in zip(values, costs)]
        ax.bar(labels, values, bottom=bottoms, color=colours[i % 10], label=pillar, width=0.65)
        ax_share.bar(labels, shares, bottom=share_bottoms, color=colours[i % 10], width=0.65)
        bottoms = [b + v for b, v in zip(bottoms, values)]
        share_bottoms = [b + v for b, v in zip(share_bottoms, shares)]
    group = fam.display.share_group
    for j, c in enumerate(costs):
        total = c.madds(convention)
        text = f"{total / 1e6:.0f}M"
        if group:
            share = 100 * fam.display.group_madds(c, group, convention) / total
            text += f"\n{_initials(group)} {share:.1f}%"
        ax.annotate(text, (j, bottoms[j]), textcoords="offset points", xytext=(0, 4),
                    ha="center", fontsize=8)
    ax.set_ylim(0, max(bottoms) * 1.15)
    ax.set_ylabel(f"MAdds (M, {convention} convention)")
    ax.set_title("MAdds per pillar" + (f"; {_initials(group)} = {fam.display.group_title(group)}"
                                       if group else ""),
                 fontsize=11)
    ax.legend(fontsize=8, loc="upper left", ncol=2)
    ax.grid(axis="y", alpha=0.3)
    ax_share.set_ylim(0, 100)
    ax_share.set_ylabel("share of the model's MAdds (%)")
    ax_share.set_title("Shares", fontsize=11)
    ax_share.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"Where the MAdds of the {fam.display.title} variants go ({resolution}x{resolution})",
                 fontsize=12)
    fig.tight_layout()
    return save(fig, out)


def _initials(group: str) -> str:
    """"former+bridge" -> "F+B": a short label for a pillar group."""
    return "+".join(w[:1].upper() for w in group.split("+"))


STUDY_COLUMNS = {"state", "madds", "proxy_score"}


def read_study(folder: str) -> pd.DataFrame:
    """trials.csv of a search output folder, checked before any drawing starts."""
    path = Path(folder) / "trials.csv"
    if not path.is_file():
        raise UserError(f"--study {folder}: no trials.csv there (is it a search --out folder?)")
    try:
        trials = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"--study {path}: unreadable trials.csv ({exc.__class__.__name__})") \
            from None
    missing = STUDY_COLUMNS - set(trials.columns)
    if missing:
        raise UserError(f"--study {path}: not a search trials.csv (missing columns "
                        f"{', '.join(sorted(missing))})")
    return trials


FIGURES = ("published_madds", "published_params", "published_latency", "pillars")


def figure_names(study: bool = False) -> list[str]:
    """The files `draw_all` writes."""
    return [f"{stem}.{fmt}" for stem in FIGURES + (("study",) if study else ())
            for fmt in FORMATS]


def draw_all(out: Path, families_arg: str | None = None, logx: bool = False,
             max_madds: float | None = 1000.0, study: str | None = None,
             trials: pd.DataFrame | None = None) -> list[Path]:
    """Every figure; the study panel when `trials` (read from the `study` folder) is given.
    Refuses (before drawing) to overwrite a file mfsearch did not write."""
    names = claim(out, figure_names(trials is not None))
    everything = load_published(primary_only=False)
    frame = primary(everything)
    families = pick_families(frame, [f.strip() for f in families_arg.split(",")]
                             if families_arg else None)
    limit = None if logx else max_madds
    paths = plot_published(frame, families, "madds", out / "published_madds", logx, limit)
    paths += plot_published(frame, families, "params", out / "published_params", logx)
    paths += plot_latency(everything, families, out / "published_latency", logx=logx)
    paths += plot_pillars(out / "pillars")
    if trials is not None:
        paths += plot_study(trials, out / "study", Path(study).name)
    remember(out, names)
    return paths
