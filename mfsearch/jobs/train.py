"""`mfsearch train MODEL --data DIR --epochs N --out DIR` / `mfsearch.train(...)`: train a
variant, a spec file or a search's best.yaml for real, resumably, on one or several processes
(torchrun)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import defaults
from .common import default_out, writable_dir
from .models import load_spec


@dataclass(frozen=True)
class TrainJob:
    """A training, checked and ready: the spec, the resolved recipe (and where its learning
    rate and weight decay came from), the data, the folder, the command."""

    spec: Any
    settings: Any  # mfsearch.training.settings.TrainSettings, family values filled in
    recipe: str
    data: Any  # mfsearch.training.data.TrainingData
    out: Path
    resumes: bool
    command: str

    def run(self, on_event: Callable | None = None) -> list[dict]:
        """Train (or resume); returns the history, one row per epoch."""
        from ..training.loop import launched, run_identity, train_model
        from ..training.outputs import record_run

        rank, world = launched()
        if rank == 0:
            record_run(self.out, run_identity(self.spec, self.data, self.settings, world),
                       self.command)
        return train_model(self.spec, self.data, self.settings, self.out, on_event)


def plan_train(model: Any, data: str | Path | None = None, *, epochs: int,
               out: str | Path | None = None, batch: int = defaults.TRAIN_BATCH,
               lr: float | None = None, weight_decay: float | None = None,
               warmup_epochs: int | None = None,
               label_smoothing: float = defaults.TRAIN_LABEL_SMOOTHING,
               ema_decay: float = defaults.TRAIN_EMA_DECAY,
               resolution: int = defaults.RESOLUTION, seed: int = defaults.SEED,
               workers: int = defaults.TRAIN_WORKERS, device: str = defaults.DEVICE,
               val_fraction: float | None = None, overrides: list[str] | None = None,
               command: str | None = None) -> TrainJob:
    """Every input of `mfsearch train` (see `mfsearch train -h`), checked before any work: the
    model, the data's layout, the settings, and a resume against the run in `out`."""
    from ..training.data import open_data
    from ..training.loop import check_resumable, launched, run_identity
    from ..training.settings import TrainSettings

    spec = load_spec(model, overrides)
    settings, recipe = TrainSettings(
        epochs=epochs, batch=batch, lr=lr or 0.0,
        weight_decay=-1.0 if weight_decay is None else weight_decay,
        warmup_epochs=(min(defaults.TRAIN_WARMUP_EPOCHS, max(0, epochs - 1))
                       if warmup_epochs is None else warmup_epochs),
        label_smoothing=label_smoothing, ema_decay=ema_decay,
        resolution=resolution, seed=seed, workers=workers, device=device,
        val_fraction=val_fraction).check().for_spec(spec)
    images = open_data(data, resolution, val_fraction, seed)
    folder = Path(out) if out is not None else default_out()
    world = launched()[1]
    resumes = check_resumable(folder, run_identity(spec.replace(
        num_classes=images.num_classes), images, settings, world))
    return TrainJob(spec.replace(num_classes=images.num_classes), settings, recipe, images,
                    writable_dir(folder), resumes,
                    command or f"mfsearch.train({spec.name!r}, epochs={epochs})")


def train(model: Any, data: str | Path | None = None, *, on_event: Callable | None = None,
          **inputs: Any) -> list[dict]:
    """`mfsearch train` as a call (`plan_train` lists the inputs); returns the history."""
    return plan_train(model, data, **inputs).run(on_event)
