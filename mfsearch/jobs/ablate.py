"""`mfsearch ablate` / `mfsearch.ablate(...)`: the paper's ablation tables from spec switches,
and with `train`, each row trained by the proxy with `seeds` seeds and the ranking compared
with the paper's (agreement.md and agreement.json beside the tables)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import defaults
from ..cost.counts import DEFAULT_CONVENTION
from ..errors import UserError
from ..families import load_model_spec
from .common import (DataSource, data_source, proxy_settings, quiet_libraries, report_path,
                     writable_dir)
from .trainings import TRAININGS, SeededTrainings


@dataclass(frozen=True)
class AblateJob:
    tables: list  # mfsearch.reports.ablations.AblationTable
    model: str
    resolution: Any
    convention: str
    out: Path
    seeds: int
    proxy: Any = None  # ProxyConfig when the rows are trained
    data: DataSource | None = None

    def run(self, log: Callable[[str], None] = print) -> dict:
        """Write tableN.md/.csv (and agreement.md/.json when every row of Tables 5-9 trained
        at the paper's base and size); returns {"results", "written", "agreement"}."""
        from ..reports import ablations

        quiet_libraries()
        out = writable_dir(self.out)
        train, note, trainer = None, "", None
        if self.proxy is not None:
            trainer = _AblationTrainings(self.data.load(), self.proxy, self.seeds,
                                         out / TRAININGS, log)
            train, note = trainer.top1, trainer.note()
        results = []
        try:
            for table in self.tables:
                results.append(ablations.regenerate(table, self.model, self.resolution,
                                                    self.convention, train))
        finally:
            if trainer is not None:
                trainer.close()
        written = ablations.write_tables(results, out, self.convention, note)
        record = None
        if trainer is not None and self._agreement_applies():
            record = trainer.agreement(self.tables, self.model)
            from ..reports.agreement import write

            written += write(record, self.proxy.describe_score(), out)
        return {"results": results, "written": written, "agreement": record}

    def _agreement_applies(self) -> bool:
        from ..reports.agreement import TABLES

        if not set(TABLES) <= {t.id for t in self.tables}:
            return False
        paper = next(t for t in self.tables if t.id in TABLES)
        return (self.model == paper.paper_base
                and (self.resolution is None or self.resolution == paper.resolution))


class _AblationTrainings(SeededTrainings):
    """The rows' trainings: a base model that several tables repeat trains once per seed."""

    def note(self) -> str:
        cfg = self.proxy
        return (f"proxy top-1 (%): our short training on {self.data.name} ({cfg.steps} steps, "
                f"batch {cfg.batch_size}, {cfg.resolution}px, lr {cfg.lr:g}; mean of seeds "
                f"{cfg.seed}-{cfg.seed + self.seeds - 1}); it ranks rows on that data and is not "
                "ImageNet accuracy.")

    def top1(self, spec) -> float:
        values = [o["top1"] for o in self.outcomes(spec)]
        return float("nan") if None in values else sum(values) / len(values)

    def agreement(self, tables, model: str) -> dict:
        from ..nas.confirm import Guessing
        from ..reports.agreement import agreement, load_findings, paper_variants

        guessing = Guessing(self.data.num_classes, self.data.sizes()[1])
        variants, per_table, specs = paper_variants(tables, load_model_spec(model))
        for variant, spec in zip(variants, specs):
            self.record(spec, variant)
        record = agreement(variants, per_table, load_findings(), self.seeds, self.data.name)
        for row, v in zip(record["rows"], variants):
            row["learned"] = guessing.learned(v)
            row["did_not_learn_because"] = guessing.shortfall(v) or None
        return record


def plan_ablate(*, table: str = "all", model: str | None = None, resolution: Any = None,
                convention: str = DEFAULT_CONVENTION, train: bool = False, seeds: int = 1,
                out: str | Path | None = None, proxy: dict | None = None,
                seed: int = defaults.SEED, device: str = defaults.DEVICE,
                data: str | Path | None = None, val_fraction: float | None = None,
                max_images: int | None = None, skip_bad_images: bool = False) -> AblateJob:
    """Every input of `mfsearch ablate`, checked before any work."""
    from ..reports import ablations

    tables = ablations.select(table)
    model = model or ablations.DEFAULT_BASE
    load_model_spec(model)  # a bad base model fails before any work
    if not isinstance(seeds, int) or seeds < 1:
        raise UserError(f"--seeds {seeds}: expected a positive integer")
    folder = report_path(out, "reports/ablations")
    if not train:
        return AblateJob(tables, model, resolution, convention, folder, seeds)
    cfg = proxy_settings(proxy, seed, device)
    source = data_source(data, val_fraction, seed, cfg, seeds * cfg.steps * cfg.batch_size,
                         max_images, skip_bad_images)
    return AblateJob(tables, model, resolution, convention, folder, seeds, cfg, source)


def ablate(*, log: Callable[[str], None] = print, **inputs: Any) -> dict:
    """`mfsearch ablate` as a call (`plan_ablate` lists the inputs)."""
    return plan_ablate(**inputs).run(log)
