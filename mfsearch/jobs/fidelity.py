"""`mfsearch fidelity` / `mfsearch.proxy_fidelity(...)`: does the short proxy rank architectures of a
band as a longer training does? One job, the command line's inputs and defaults."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import defaults
from ..cost.counts import DEFAULT_CONVENTION
from ..errors import UserError
from ..nas.band import Band, check_reachable
from ..nas.budget import parse_budget
from ..proxy.config import ProxyConfig
from ..space import load_space
from .common import (DataSource, data_source, proxy_settings, quiet_libraries,
                     report_path)


@dataclass(frozen=True)
class FidelityJob:
    """A fidelity measurement, checked and ready."""

    space: Any
    band: Band
    proxy: ProxyConfig
    data: DataSource
    archs: int
    factor: int
    repeats: int
    jobs: int
    seed: int
    report: Path
    trainings: Path
    relog: bool = False
    command: str = ""

    def run(self, log: Callable[[str], None] = print) -> dict:
        """Measure, write the report and its record; returns the record."""
        from ..fidelity import measure, report
        from ..fidelity.record import record_path, save_record

        quiet_libraries()
        check_reachable(self.space, self.band)
        data = self.data.load()
        log(f"data: {data.describe(self.proxy.resolution)}")
        start = time.time()
        frame, record = measure.measure(self.space, self.band, data, self.proxy, self.archs,
                                        self.factor, self.seed, self.repeats, self.jobs,
                                        log=log, trainings=self.trainings, relog=self.relog)
        record["seconds"] = round(time.time() - start)
        report.write_report(frame, record, self.report, self.command)
        save_record(record, record_path(self.report))
        return record


def plan_fidelity(*, budget: str | int = defaults.FIDELITY_BUDGET,
                  archs: int = defaults.FIDELITY_ARCHS, factor: int = defaults.FIDELITY_FACTOR,
                  repeats: int = defaults.FIDELITY_REPEATS, jobs: int = defaults.FIDELITY_JOBS,
                  space: str | Path | None = None, tolerance: float = defaults.TOLERANCE,
                  convention: str = DEFAULT_CONVENTION, resolution: int = defaults.RESOLUTION,
                  seed: int = defaults.SEED, proxy: dict | ProxyConfig | None = None,
                  device: str = defaults.DEVICE, data: str | Path | None = None,
                  val_fraction: float | None = None,
                  max_images: int | None = None, skip_bad_images: bool = False,
                  report: str | Path | None = None,
                  trainings: str | Path | None = None, relog: bool = False,
                  command: str | None = None) -> FidelityJob:
    """Every input of `mfsearch fidelity` (see `mfsearch fidelity -h`), checked before any
    work."""
    if not isinstance(archs, int) or archs < 3:
        raise UserError(f"--archs {archs}: expected an integer of at least 3 (rank statistics "
                        "need 3 architectures)")
    for name, value in (("--factor", factor), ("--repeats", repeats), ("--jobs", jobs)):
        if not isinstance(value, int) or value < 1:
            raise UserError(f"{name} {value}: expected a positive integer")
    cfg = proxy_settings(proxy, seed, device)
    path = report_path(report, "reports/proxy_fidelity.md", "--report")
    return FidelityJob(
        space=load_space(None if space is None else str(space)),
        band=Band(parse_budget(str(budget)), tolerance, convention, resolution,
                  given=str(budget)),
        proxy=cfg, data=data_source(data, val_fraction, seed, cfg,
                                     repeats * factor * cfg.steps * cfg.batch_size,
                                     max_images, skip_bad_images), archs=archs,
        factor=factor, repeats=repeats, jobs=jobs, seed=seed, report=path,
        trainings=Path(trainings) if trainings else path.with_suffix(".trainings.jsonl"),
        relog=relog, command=command or f"mfsearch.proxy_fidelity(budget={str(budget)!r}, "
                                        f"archs={archs})")


def proxy_fidelity(*, log: Callable[[str], None] = print, **inputs: Any) -> dict:
    """`mfsearch fidelity` as a call, with the same inputs and defaults (`plan_fidelity` lists
    them); returns the record the report quotes (Kendall taus, intervals, decision quality)."""
    return plan_fidelity(**inputs).run(log)
