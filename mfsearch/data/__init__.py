"""Datasets for proxy training: the built-in synthetic task, or the user's images on disk
(ImageFolder layout or CIFAR-10/100 python pickles). Nothing is downloaded."""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import defaults
from ..errors import UserError
from . import synthetic
from .folders import check_folder, index_folder, split_indices, stratified_subset

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass
class Dataset:
    """Train and held-out splits, served as float tensors at any resolution (cached)."""

    name: str
    num_classes: int
    _train: tuple[torch.Tensor, torch.Tensor] | None = None  # uint8 [N, 3, H, W], labels
    _val: tuple[torch.Tensor, torch.Tensor] | None = None
    synthetic_sizes: tuple[int, int] = (0, 0)
    seed: int = 0
    classes: tuple[str, ...] = ()  # class names, for data from disk
    held_out: str = ""  # where the held-out images come from, in words
    skipped: tuple[str, ...] = ()  # unreadable files left out (--skip-bad-images)
    _cache: dict = field(default_factory=dict)

    def train(self, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._split("train", resolution)

    def identity(self) -> dict:
        """What a training's outcome depends on in this dataset: for the built-in task its sizes
        and seed (its code is fingerprinted with the training code), for images from disk a
        digest of the images and labels themselves."""
        if self._train is None:
            return {"name": self.name, "sizes": list(self.synthetic_sizes), "seed": self.seed}
        digest = hashlib.sha256()
        for tensor in (*self._train, *self._val):
            digest.update(tensor.contiguous().numpy())
        return {"name": self.name, "digest": digest.hexdigest()}

    def sizes(self) -> tuple[int, int]:
        """(training images, held-out images)."""
        if self._train is None:
            return self.synthetic_sizes
        return self._train[1].numel(), self._val[1].numel()

    def check_batch(self, batch: int) -> None:
        """A proxy batch must fit in the training images (a step draws it without repeats)."""
        train = self.sizes()[0]
        if batch > train:
            raise UserError(f"--proxy-batch {batch} is more than the {train:,} training images "
                            f"of {self.name}; use at most {train}")

    def describe(self, resolution: int) -> str:
        """What a run trains on, in the words every run prints and reports."""
        train, held = self.sizes()
        where = f" ({self.held_out})" if self.held_out else ""
        bad = f", {len(self.skipped)} unreadable skipped" if self.skipped else ""
        return (f"{self.name}: {self.num_classes} classes, {train:,} train / {held:,} held-out"
                f"{where} images{bad}, at {resolution} px")

    def val(self, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._split("val", resolution)

    def raw_split(self, which: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoded images of a split ("train" or "val") as uint8 [N, 3, H, W] with their
        labels (images from disk only: the built-in task is generated per resolution)."""
        split = self._train if which == "train" else self._val
        if split is None:
            raise ValueError(f"{self.name} is generated, not decoded")
        return split

    def _split(self, which: str, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
        key = (which, resolution)
        if key not in self._cache:
            if self._train is None:  # synthetic: generate at the resolution asked for
                count = self.synthetic_sizes[0 if which == "train" else 1]
                seed = self.seed * 2 + (0 if which == "train" else 1)
                self._cache[key] = synthetic.generate(count, resolution, seed)
            else:
                images, labels = self._train if which == "train" else self._val
                self._cache[key] = (_normalise(images, resolution), labels)
        return self._cache[key]


def _normalise(images: torch.Tensor, resolution: int) -> torch.Tensor:
    x = images.float() / 255.0
    if x.shape[-1] != resolution or x.shape[-2] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True,
                          align_corners=False)
    return ((x - MEAN) / STD).contiguous()


def builtin(train_size: int = 8192, val_size: int = defaults.HELD_OUT_IMAGES,
            seed: int = 0) -> Dataset:
    """The built-in task. 4096 held-out images keep the score's sampling error (about 0.008 at
    60% accuracy) well below the seed-to-seed spread of a short training.

    8192 training images (16384 ranked no better: docs/decisions.md)."""
    return Dataset(name="builtin-bearings", num_classes=synthetic.NUM_CLASSES,
                   synthetic_sizes=(train_size, val_size), seed=seed)


Progress = Callable[[int, int], None]  # (images decoded, images to decode)


def load(path: str | Path | None, val_fraction: float | None = None, seed: int = 0,
         max_images: int | None = None, load_size: int = 128,
         max_held_out: int | None = None, skip_bad: bool = False,
         progress: Progress | None = None) -> Dataset:
    """`None` -> the built-in task; a folder -> CIFAR pickles or ImageFolder, by what it holds.
    `max_images` (training) and `max_held_out` cap the splits to seeded subsets stratified by
    class, chosen before anything is decoded. Images from disk are decoded once at `load_size`
    (pass the proxy's resolution) and kept as uint8, so memory grows with the images kept, not
    with the folder. `skip_bad` leaves unreadable files out (named in `Dataset.skipped`)
    instead of stopping at the first."""
    if path is None:
        return builtin(seed=seed)
    root = check_folder(Path(path))
    if is_cifar(root):
        return _load_cifar(root, val_fraction, seed, max_images, max_held_out)
    index = index_folder(root, val_fraction, seed, max_images, max_held_out)
    total = len(index.train) + len(index.val)
    report = progress or (lambda done, total: None)
    skipped: list[str] = []
    train = _decode(index.train, load_size, skip_bad, skipped, lambda n: report(n, total))
    val = _decode(index.val, load_size, skip_bad, skipped,
                  lambda n: report(len(index.train) + n, total))
    return Dataset(name=f"imagefolder:{root.name}", num_classes=len(index.classes),
                   _train=train, _val=val, seed=seed, classes=index.classes,
                   held_out=index.held_out, skipped=tuple(skipped))


def is_cifar(root: Path) -> bool:
    """A folder of CIFAR-10 or CIFAR-100 python pickles."""
    return (root / "data_batch_1").exists() or (root / "train").is_file()


def _split(images: torch.Tensor, labels: torch.Tensor, val_fraction: float, seed: int):
    tr, va = split_indices(labels, val_fraction, seed)
    return (images[tr], labels[tr]), (images[va], labels[va])


def decode_error(path: Path, exc: Exception) -> str:
    """Why an image could not be read, on one line, with Pillow's reason."""
    reason = " ".join(str(exc).split())
    return f"cannot decode {path} ({exc.__class__.__name__}{': ' + reason if reason else ''})"


def _decode(files: tuple[tuple[Path, int], ...], load_size: int, skip_bad: bool,
            skipped: list[str], done: Callable[[int], None]) -> tuple[torch.Tensor, torch.Tensor]:
    """The images at load_size x load_size, uint8, and their labels."""
    from PIL import Image, UnidentifiedImageError

    images = torch.empty(len(files), 3, load_size, load_size, dtype=torch.uint8)
    keep = torch.ones(len(files), dtype=torch.bool)
    for n, (f, _) in enumerate(files):
        try:
            with Image.open(f) as img:
                img = img.convert("RGB").resize((load_size, load_size), Image.BILINEAR)
                images[n] = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            if not skip_bad:
                raise UserError(f"--data: {decode_error(f, exc)}; --skip-bad-images leaves "
                                "such files out") from None
            skipped.append(str(f))
            keep[n] = False
        if (n + 1) % 256 == 0 or n + 1 == len(files):
            done(n + 1)
    labels = torch.tensor([label for _, label in files], dtype=torch.long)
    return (images, labels) if bool(keep.all()) else (images[keep], labels[keep])


class _CifarUnpickler(pickle.Unpickler):
    """CIFAR batches hold dicts, lists, bytes and numpy arrays; nothing else is built."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray",
                                                            "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            return _CifarUnpickler(fh, encoding="bytes").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise UserError(f"--data: cannot read CIFAR batch {path} ({exc.__class__.__name__})") from None


def _cifar_arrays(batch: dict, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    data = batch.get(b"data")
    labels = batch.get(b"labels", batch.get(b"fine_labels"))
    if data is None or labels is None:
        raise UserError(f"--data: {path} is not a CIFAR python batch (no data/labels)")
    x = torch.from_numpy(np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32))
    return x, torch.tensor(list(labels), dtype=torch.long)


def _load_cifar(root: Path, val_fraction: float | None, seed: int, max_images: int | None,
                max_held_out: int | None) -> Dataset:
    """CIFAR-10 (data_batch_*, test_batch) or CIFAR-100 (train, test) python pickles. The
    score is taken on the official test split when present, else on a held-out split."""
    if (root / "data_batch_1").exists():
        train_files = sorted(root.glob("data_batch_*"))
        test_file = root / "test_batch"
    else:
        train_files, test_file = [root / "train"], root / "test"
    parts = [_cifar_arrays(_unpickle(f), f) for f in train_files]
    x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    if test_file.exists():
        if val_fraction is not None:
            raise UserError(f"--val-fraction {val_fraction}: {root} has its own test batch "
                            f"{test_file.name}, which is used as it is")
        train, val = (x, y), _cifar_arrays(_unpickle(test_file), test_file)
        held_out = test_file.name
    else:
        fraction = defaults.VAL_FRACTION if val_fraction is None else val_fraction
        train, val = _split(x, y, fraction, seed)
        held_out = f"{fraction:.0%} of each class held out (seed {seed})"
    num_classes = max(int(train[1].max()), int(val[1].max())) + 1
    pick = lambda split, count: tuple(  # noqa: E731
        t[stratified_subset(split[1], count, seed)] for t in split)
    return Dataset(name=f"cifar:{root.name}", num_classes=num_classes,
                   _train=pick(train, max_images), _val=pick(val, max_held_out), seed=seed,
                   held_out=held_out)
