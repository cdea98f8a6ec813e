"""Figures drawn with matplotlib's object API: a `Figure` with its own canvas, no pyplot state,
so drawing a report never switches the backend of the process it runs in (a notebook's)."""

from __future__ import annotations

from pathlib import Path


def new_figure(rows: int = 1, cols: int = 1, **options):
    """A figure and its axes (`Figure.subplots`: `figsize`, `squeeze`, `width_ratios`...)."""
    from matplotlib.figure import Figure

    figsize = options.pop("figsize", None)
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(rows, cols, **options)


def colormap(name: str, colours: int | None = None):
    """A named colormap (resampled to `colours` entries when given)."""
    import matplotlib

    cmap = matplotlib.colormaps[name]
    return cmap.resampled(colours) if colours else cmap


def save_figure(fig, path: Path, dpi: int = 120, **options) -> Path:
    """Write `fig` (SVG element ids fixed, so the same figure writes the same file)."""
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "mfsearch"}):
        fig.savefig(path, dpi=dpi, **options)
    return path
