"""`mfsearch verify RUN_DIR --epochs N --seeds K [--data DIR]` / `mfsearch.verify(...)`: does a
search's verdict hold on real training?"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .. import defaults
from ..errors import UserError
from ..proxy.config import ProxyConfig

if TYPE_CHECKING:
    from ..nas.confirm import Guessing


@dataclass(frozen=True)
class VerifyJob:
    folder: Path  # the search's output folder
    data: str | None  # None: the built-in task
    data_name: str
    epochs: int
    seeds: int
    guessing: Guessing  # the data's classes and held-out images
    inputs: dict  # plan_train's inputs besides the model, data, epochs, out and seed

    def run(self, log: Callable[[str], None] = print, on_event: Callable | None = None):
        """Train what is missing, then write report.md's section and report.json's
        `verified`; returns the `mfsearch.nas.confirm.Confirmation` of the trainings."""
        from ..nas.verify import record, verify_run
        from ..training.outputs import RUN_FILE
        from .train import plan_train

        def train(spec, folder: Path, seed: int) -> dict:
            done = folder / RUN_FILE
            if done.exists() and json.loads(done.read_text()).get("finished"):
                log(f"  done already: {folder}")
                return json.loads(done.read_text())["final"]
            job = plan_train(spec, self.data, epochs=self.epochs, out=folder, seed=seed,
                             command=f"mfsearch verify {self.folder}", **self.inputs)
            return job.run(on_event)[-1]

        result = verify_run(self.folder, train, self.seeds, self.guessing, log)
        record(self.folder, result, self.data_name, self.epochs, dict(self.inputs))
        return result


def plan_verify(run: str | Path, *, epochs: int, seeds: int = 3,
                data: str | Path | None = None, batch: int = defaults.TRAIN_BATCH,
                resolution: int | None = None, workers: int = defaults.TRAIN_WORKERS,
                device: str = defaults.DEVICE) -> VerifyJob:
    """Checked before any training: the search's report, the data, the settings."""
    from ..nas.confirm import Guessing
    from ..nas.verify import read_report
    from ..training.data import open_data

    folder = Path(run)
    report = read_report(folder)
    if not isinstance(epochs, int) or epochs < 1:
        raise UserError(f"--epochs {epochs}: expected a positive integer")
    if not isinstance(seeds, int) or seeds < 2:
        raise UserError(f"--seeds {seeds}: expected at least 2 (an interval needs two)")
    searched = report.get("data", "builtin-bearings")
    if data is None and not searched.startswith("builtin"):
        raise UserError(f"{folder}: the search ran on {searched}; name its folder with --data")
    size = resolution or report.get("proxy", {}).get("resolution", ProxyConfig.resolution)
    name = searched if data is None else f"{Path(data).name} ({data})"
    images = open_data(data, size, None, defaults.SEED)
    return VerifyJob(folder, None if data is None else str(data), name, epochs, seeds,
                     Guessing(images.num_classes, len(images.val)),
                     {"batch": batch, "resolution": size, "workers": workers,
                      "device": device})


def verify(run: str | Path, *, log: Callable[[str], None] = print, **inputs: Any):
    """`mfsearch verify` as a call (`plan_verify` lists the inputs)."""
    return plan_verify(run, **inputs).run(log)
