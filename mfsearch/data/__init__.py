"""Datasets for proxy training: the built-in synthetic task, or the user's images on disk
(ImageFolder layout or CIFAR-10/100 python pickles). Nothing is downloaded."""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError
from . import synthetic
from .folders import (check_folder, class_folders, held_out_folder, image_files, same_classes,
                      split_indices)

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
        return (f"{self.name}: {self.num_classes} classes, {train:,} train / {held:,} held-out "
                f"images, at {resolution} px")

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


def builtin(train_size: int = 8192, val_size: int = 4096, seed: int = 0) -> Dataset:
    """The built-in task. 4096 held-out images keep the score's sampling error (about 0.008 at
    60% accuracy) well below the seed-to-seed spread of a short training.

    8192 training images (16384 ranked no better: docs/decisions.md)."""
    return Dataset(name="builtin-bearings", num_classes=synthetic.NUM_CLASSES,
                   synthetic_sizes=(train_size, val_size), seed=seed)





def load(path: str | Path | None, val_fraction: float = 0.2, seed: int = 0,
         max_images: int | None = None, load_size: int = 128) -> Dataset:
    """`None` -> the built-in task; a folder -> CIFAR pickles or ImageFolder, by what it holds.
    Images from disk are decoded once at `load_size` (pass the proxy's resolution) and kept as
    uint8, so memory grows with the images' count, not their files' size."""
    if path is None:
        return builtin(seed=seed)
    root = check_folder(Path(path))
    if is_cifar(root):
        return _load_cifar(root, val_fraction, seed, max_images)
    held_out = held_out_folder(root)
    if held_out is not None:
        return _load_split_folders(root, held_out, seed, max_images, load_size)
    return _load_image_folder(root, val_fraction, seed, max_images, load_size)


def is_cifar(root: Path) -> bool:
    """A folder of CIFAR-10 or CIFAR-100 python pickles."""
    return (root / "data_batch_1").exists() or (root / "train").is_file()


def _split(images: torch.Tensor, labels: torch.Tensor, val_fraction: float, seed: int):
    tr, va = split_indices(labels, val_fraction, seed)
    return (images[tr], labels[tr]), (images[va], labels[va])


def _decode(root: Path, classes: list[str], seed: int, max_images: int | None,
            load_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image of the class folders at load_size x load_size, uint8, and the labels."""
    from PIL import Image, UnidentifiedImageError

    files = image_files(root, classes)
    if max_images:
        g = torch.Generator().manual_seed(seed)
        files = [files[i] for i in torch.randperm(len(files), generator=g)[:max_images].tolist()]
    images = torch.empty(len(files), 3, load_size, load_size, dtype=torch.uint8)
    for n, (f, _) in enumerate(files):
        try:
            with Image.open(f) as img:
                img = img.convert("RGB").resize((load_size, load_size), Image.BILINEAR)
                images[n] = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise UserError(f"--data: cannot decode {f} ({exc.__class__.__name__})") from None
    return images, torch.tensor([label for _, label in files])


def _load_image_folder(root: Path, val_fraction: float, seed: int, max_images: int | None,
                       load_size: int) -> Dataset:
    classes = class_folders(root, str(root))
    train, val = _split(*_decode(root, classes, seed, max_images, load_size), val_fraction, seed)
    return Dataset(name=f"imagefolder:{root.name}", num_classes=len(classes), _train=train,
                   _val=val, seed=seed, classes=tuple(classes))


def _load_split_folders(root: Path, held_out: Path, seed: int, max_images: int | None,
                        load_size: int) -> Dataset:
    """root/train/<class>/... and root/val/<class>/... (or valid, validation, test)."""
    classes = class_folders(root / "train", str(root / "train"))
    same_classes(root, held_out, classes, class_folders(held_out, str(held_out)))
    val_cap = max(1, max_images // 5) if max_images else None
    train = _decode(root / "train", classes, seed, max_images, load_size)
    val = _decode(held_out, classes, seed, val_cap, load_size)
    return Dataset(name=f"imagefolder:{root.name}", num_classes=len(classes), _train=train,
                   _val=val, seed=seed, classes=tuple(classes))


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


def _load_cifar(root: Path, val_fraction: float, seed: int, max_images: int | None) -> Dataset:
    """CIFAR-10 (data_batch_*, test_batch) or CIFAR-100 (train, test) python pickles. The
    score is taken on the official test split when present, else on a held-out split."""
    if (root / "data_batch_1").exists():
        train_files = sorted(root.glob("data_batch_*"))
        test_file = root / "test_batch"
    else:
        train_files, test_file = [root / "train"], root / "test"
    parts = [_cifar_arrays(_unpickle(f), f) for f in train_files]
    x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    if max_images:
        x, y = x[:max_images], y[:max_images]
    num_classes = int(y.max()) + 1
    if test_file.exists():
        train, val = (x, y), _cifar_arrays(_unpickle(test_file), test_file)
        if max_images:
            val = (val[0][: max(1, max_images // 5)], val[1][: max(1, max_images // 5)])
    else:
        train, val = _split(x, y, val_fraction, seed)
    return Dataset(name=f"cifar:{root.name}", num_classes=max(num_classes, int(val[1].max()) + 1),
                   _train=train, _val=val, seed=seed)
