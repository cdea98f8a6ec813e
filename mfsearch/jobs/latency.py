"""`mfsearch latency` / `mfsearch.measure_latency(...)`: a model's measured inference latency with
where the time goes next to where the MAdds go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import defaults
from ..latency.settings import LatencySettings, memory_format_for
from ..spec.geometry import check_resolution
from .common import quiet_torch
from .models import load_spec


@dataclass
class LatencyResult:
    """`report` (mfsearch.latency.measure.LatencyReport), the model's analytic `cost`, the
    per-pillar `frame` (None without a breakdown) and what makes the figure doubtful."""

    name: str
    report: Any
    cost: Any
    frame: Any
    warnings: list[str]


@dataclass(frozen=True)
class LatencyJob:
    """A latency measurement, checked and ready."""

    spec: Any
    weights: str | None
    resolution: Any
    backbone: bool
    settings: LatencySettings
    throughput_batch: int | None
    breakdown: bool

    def run(self) -> LatencyResult:
        from ..families import analyze
        from ..latency.measure import measure, pillar_frame, warnings_for
        from .models import load_model

        quiet_torch()
        model = load_model(self.spec, self.weights, self.resolution,
                           features_only=self.backbone)
        name = f"{self.spec.name} backbone" if self.backbone else self.spec.name
        report = measure(model, name, self.settings, self.throughput_batch, self.breakdown)
        cost = analyze(self.spec, self.resolution, self.backbone)
        frame = pillar_frame(report, cost) if report.pillars else None
        return LatencyResult(name, report, cost, frame, warnings_for(report, self.settings))


def latency_settings(resolution: Any = defaults.RESOLUTION, batch: int = defaults.LATENCY_BATCH,
                     threads: int = defaults.LATENCY_THREADS,
                     device: str = defaults.LATENCY_DEVICE, memory_format: str | None = None,
                     min_time: float = defaults.LATENCY_MIN_TIME,
                     engine: str = defaults.ENGINE, default_format: str = "auto"
                     ) -> LatencySettings:
    """The settings of a latency figure (`default_format`: torch's memory format when none is
    chosen: auto times both briefly; a lookup table uses channels_last)."""
    return LatencySettings(resolution=resolution, batch=batch, threads=threads, device=device,
                           min_time=min_time, engine=engine,
                           memory_format=memory_format_for(engine, memory_format,
                                                           default_format)).check()


def plan_latency(model: Any, weights: str | Path | None = None,
                 resolution: Any = defaults.RESOLUTION, backbone: bool = False,
                 overrides: list[str] | None = None, batch: int = defaults.LATENCY_BATCH,
                 threads: int = defaults.LATENCY_THREADS, device: str = defaults.LATENCY_DEVICE,
                 memory_format: str | None = None, min_time: float = defaults.LATENCY_MIN_TIME,
                 engine: str = defaults.ENGINE,
                 throughput_batch: int | None = defaults.THROUGHPUT_BATCH,
                 breakdown: bool = True, **fields: Any) -> LatencyJob:
    """Every input of `mfsearch latency` (see `mfsearch latency -h`), checked before any
    work."""
    resolution = check_resolution(resolution)
    return LatencyJob(load_spec(model, overrides, **fields),
                      None if weights is None else str(weights), resolution, backbone,
                      latency_settings(resolution, batch, threads, device, memory_format,
                                       min_time, engine),
                      throughput_batch, breakdown)


def measure_latency(model: Any, **inputs: Any) -> LatencyResult:
    """`mfsearch latency MODEL` as a call (`plan_latency` lists the inputs)."""
    return plan_latency(model, **inputs).run()


@dataclass(frozen=True)
class LatencyTableJob:
    """Fill this machine's block lookup table and measure its error on whole models."""

    space: Any
    settings: LatencySettings
    table: str | None
    calibration: tuple
    specs: tuple
    report: Path
    command: str

    def run(self, log: Callable[[str], None] = print) -> dict:
        """Calibrate, evaluate and write the report; returns its summary figures."""
        from ..latency import evaluate
        from ..latency.table import LatencyTable

        quiet_torch()
        table = LatencyTable.open(self.table, self.settings)
        log(f"lookup table {table.path} ({len(table.entries)} block shapes); "
            f"{len(self.calibration)} calibration specs, {len(self.specs)} held-out specs")
        table.progress = lambda done, total, name: log(f"  timing block {done + 1}/{total} "
                                                       f"({name})")
        if self.calibration:
            evaluate.calibrate(table, list(self.calibration), log)
        frame = evaluate.evaluate(table, list(self.specs), log)
        return evaluate.write_report(frame, table, self.space.family, self.report,
                                     self.command)


def plan_latency_table(*, space: str | Path | None = None, specs: int = 8,
                       variants: bool = True, max_madds: float = 3e9, calibrate: int = 6,
                       seed: int = defaults.SEED, resolution: int = defaults.RESOLUTION,
                       table: str | Path | None = None, batch: int = defaults.LATENCY_BATCH,
                       threads: int = defaults.LATENCY_THREADS,
                       device: str = defaults.LATENCY_DEVICE, memory_format: str | None = None,
                       min_time: float = defaults.LATENCY_MIN_TIME,
                       engine: str = defaults.ENGINE, report: str | Path | None = None,
                       command: str | None = None) -> LatencyTableJob:
    """Every input of `mfsearch latency-table`, checked before any timing."""
    from ..errors import UserError
    from ..latency import evaluate
    from ..space import load_space
    from .common import report_path

    settings = latency_settings(resolution, batch, threads, device, memory_format, min_time,
                                engine, "channels_last")
    path = report_path(report, "reports/latency_lut.md", "--report")
    space_ = load_space(None if space is None else str(space))
    calibration, chosen = evaluate.split_specs(space_, calibrate, specs, seed, variants,
                                               max_madds)
    if not chosen:
        raise UserError("nothing to measure: --specs 0 with --no-variants")
    return LatencyTableJob(space_, settings, None if table is None else str(table),
                           tuple(calibration), tuple(chosen), path,
                           command or "mfsearch.jobs.latency_table()")


def latency_table(*, log: Callable[[str], None] = print, **inputs: Any) -> dict:
    """`mfsearch latency-table` as a call (`plan_latency_table` lists the inputs)."""
    return plan_latency_table(**inputs).run(log)
