"""`mfsearch variants --train` / `mfsearch.variants_learn(...)`: does every shipped variant
learn under its family's default proxy settings? A search that compares designs which never
started to learn ranks noise, so the check is run on each task the search is used on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import defaults
from ..errors import UserError
from ..families import all_families, analyze, get_family, load_model_spec, variant_names
from ..proxy.config import ProxyConfig
from .common import (DataSource, data_source, proxy_settings, quiet_libraries, report_path,
                     writable_dir)
from .trainings import TRAININGS, SeededTrainings


def task_name(data: str | Path | None) -> str:
    """The short name reports key a task by: `builtin`, or the data folder's name."""
    return "builtin" if data is None else Path(data).resolve().name


@dataclass(frozen=True)
class LearnJob:
    families: list[str]
    task: str
    out: Path
    seeds: int
    proxy: ProxyConfig
    data: DataSource

    def run(self, log: Callable[[str], None] = print) -> dict:
        """Train what the log lacks, write learn.md and learn.json; returns the record."""
        from ..nas.confirm import Candidate, Guessing
        from ..reports.learning import learning_record, write

        quiet_libraries()
        out = writable_dir(self.out)
        images = self.data.load()
        log(f"data: {images.describe(self.proxy.resolution)}")
        trainings = SeededTrainings(images, self.proxy, self.seeds, out / TRAININGS, log)
        guessing = Guessing(images.num_classes, images.sizes()[1],
                            margin=defaults.LEARNED_MARGIN)
        found = []
        try:
            for family in self.families:
                for name in variant_names(family):
                    spec = load_model_spec(name)
                    cost = analyze(spec, defaults.RESOLUTION)
                    candidate = Candidate(name, spec, None, cost.madds("paper"), cost.params)
                    trainings.record(spec, candidate)
                    found.append((family, candidate))
                    log(f"{name}: " + (guessing.shortfall(candidate) or "learned"))
        finally:
            trainings.close()
        record = learning_record(found, guessing, self.task, images.describe(
            self.proxy.resolution), self.proxy, self.seeds)
        write(record, out)
        return record


def plan_variants_learn(*, family: str = "all", seeds: int = defaults.LEARN_SEEDS,
                        out: str | Path | None = None, proxy: dict | None = None,
                        seed: int = defaults.SEED, device: str = defaults.DEVICE,
                        data: str | Path | None = None, val_fraction: float | None = None,
                        max_images: int | None = None,
                        skip_bad_images: bool = False) -> LearnJob:
    """Every input of `mfsearch variants --train`, checked before any work."""
    families = list(all_families()) if family == "all" else [get_family(family).name]
    if not isinstance(seeds, int) or seeds < 1:
        raise UserError(f"--seeds {seeds}: expected a positive integer")
    task = task_name(data)
    folder = report_path(out, f"reports/external_validity/variants-{task}")
    cfg = proxy_settings(proxy, seed, device)
    source = data_source(data, val_fraction, seed, cfg, seeds * cfg.steps * cfg.batch_size,
                         max_images, skip_bad_images)
    return LearnJob(families, task, folder, seeds, cfg, source)


def variants_learn(*, log: Callable[[str], None] = print, **inputs: Any) -> dict:
    """`mfsearch variants --train` as a call (`plan_variants_learn` lists the inputs)."""
    return plan_variants_learn(**inputs).run(log)
