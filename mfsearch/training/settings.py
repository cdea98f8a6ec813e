"""The recipe of `mfsearch train`: AdamW, linear warm-up then cosine decay per step, label
smoothing, random-resized crop and flip, an EMA of the weights, bf16 autocast on CUDA. The
learning rate and weight decay are the family's published ones where it has them (Mobile-Former:
the paper's Table 11), scaled linearly from their batch to this run's."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .. import defaults
from ..errors import UserError
from ..families import family_of

# Without a family table: AdamW's usual settings for small vision networks, at batch 1024.
GENERIC = {"lr": 1e-3, "weight_decay": 0.05, "batch": 1024, "from": "generic AdamW"}


@dataclass(frozen=True)
class TrainSettings:
    epochs: int
    batch: int = defaults.TRAIN_BATCH  # images per optimizer step, over all processes
    lr: float = 0.0  # peak learning rate (0: the family's, scaled to the batch)
    weight_decay: float = -1.0  # (negative: the family's)
    warmup_epochs: int = defaults.TRAIN_WARMUP_EPOCHS
    label_smoothing: float = defaults.TRAIN_LABEL_SMOOTHING
    ema_decay: float = defaults.TRAIN_EMA_DECAY
    resolution: int = defaults.RESOLUTION
    seed: int = defaults.SEED
    workers: int = defaults.TRAIN_WORKERS  # DataLoader processes per training process
    device: str = defaults.DEVICE
    val_fraction: float | None = None  # (None: the default, for a folder without a split)

    def check(self) -> TrainSettings:
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise UserError(f"--epochs {self.epochs}: expected a positive integer")
        if self.batch < 1:
            raise UserError(f"--batch {self.batch}: expected a positive integer")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise UserError(f"--warmup-epochs {self.warmup_epochs}: expected 0 to "
                            f"{self.epochs - 1} (fewer than --epochs)")
        if not 0 <= self.label_smoothing < 1:
            raise UserError(f"--label-smoothing {self.label_smoothing}: expected [0, 1)")
        if not 0 < self.ema_decay < 1:
            raise UserError(f"--ema-decay {self.ema_decay}: expected a number in (0, 1)")
        if self.workers < 0:
            raise UserError(f"--workers {self.workers}: expected 0 or more")
        return self

    def for_spec(self, spec) -> tuple[TrainSettings, str]:
        """The settings with the family's learning rate and weight decay filled in (scaled to
        the batch), and where they came from in words."""
        table = family_of(spec).training_settings(spec) or GENERIC
        scale = self.batch / table["batch"]
        lr = self.lr or table["lr"] * scale
        wd = self.weight_decay if self.weight_decay >= 0 else table["weight_decay"]
        said = (f"lr {lr:.3g}" + ("" if self.lr else f" ({table['from']}'s {table['lr']:g} at "
                                 f"batch {table['batch']}, x {self.batch}/{table['batch']})")
                + f", weight decay {wd:g}" + ("" if self.weight_decay >= 0 else
                                             f" ({table['from']})"))
        return TrainSettings(**{**asdict(self), "lr": lr, "weight_decay": wd}), said

    def to_dict(self) -> dict:
        return asdict(self)
