"""Images for a real training, streamed: files are decoded per item in DataLoader workers, so
memory does not grow with the dataset. Augmentation (random-resized crop and flip) draws from
a generator seeded by (seed, epoch, image), so a run repeats whatever the worker count, and a
resumed epoch sees the same crops as the one it replaces."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import data as datasets
from ..data.folders import index_folder
from ..errors import UserError

MEAN = datasets.MEAN
STD = datasets.STD
CROP_SCALE = (0.35, 1.0)  # random-resized crop: small networks, small images
CROP_RATIO = (3 / 4, 4 / 3)


def _crop_box(rng: np.random.Generator, height: int, width: int) -> tuple[int, int, int, int]:
    """A random-resized-crop box (top, left, h, w), as torchvision draws it (10 tries, then the
    centre)."""
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(*CROP_SCALE)
        ratio = math.exp(rng.uniform(math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])))
        w = int(round(math.sqrt(target * ratio)))
        h = int(round(math.sqrt(target / ratio)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side, side


def prepare(image: torch.Tensor, size: int, rng: np.random.Generator | None) -> torch.Tensor:
    """uint8 [3, H, W] -> uint8 [3, size, size]: a random-resized crop and a coin-flip mirror
    when `rng` is given (training), the whole image resized otherwise."""
    if rng is not None:
        top, left, h, w = _crop_box(rng, image.shape[1], image.shape[2])
        image = image[:, top:top + h, left:left + w]
        if rng.random() < 0.5:
            image = image.flip(-1)
    if image.shape[1:] != (size, size):
        x = F.interpolate(image[None].float(), size=(size, size), mode="bilinear",
                          antialias=True, align_corners=False)
        image = x[0].round().clamp(0, 255).to(torch.uint8)
    return image


class Images(torch.utils.data.Dataset):
    """(image uint8 [3, size, size], label) from files on disk or from uint8 tensors in RAM.
    File paths are held as one NumPy byte array, not a list of Python objects: DataLoader
    workers then share its pages with the parent instead of copying them as they touch each
    object's reference count, so memory does not grow with the file count per worker."""

    def __init__(self, items, size: int, augment: bool, seed: int):
        self.files = (np.array([os.fsencode(path) for path, _ in items])
                      if items and not isinstance(items[0][0], torch.Tensor) else None)
        self.images = None if self.files is not None else [image for image, _ in items]
        self.labels = np.array([label for _, label in items], dtype=np.int64)
        self.size, self.augment, self.seed = size, augment, seed
        self.epoch = 0  # set before each epoch: the crops depend on it

    def __len__(self) -> int:
        return len(self.labels)

    def _load(self, index: int) -> torch.Tensor:
        if self.files is None:
            return self.images[index]
        from PIL import Image, UnidentifiedImageError

        path = os.fsdecode(self.files[index])
        try:
            with Image.open(path) as img:
                array = np.asarray(img.convert("RGB")).copy()
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise UserError(f"--data: {datasets.decode_error(path, exc)}") from None
        return torch.from_numpy(array).permute(2, 0, 1)

    def __getitem__(self, index: int):
        rng = (np.random.default_rng((self.seed, self.epoch, index)) if self.augment else None)
        return prepare(self._load(index), self.size, rng), int(self.labels[index])


class Normalised(torch.utils.data.Dataset):
    """Images already as float tensors at the training size (the built-in task, generated):
    its labels are bearings, which a crop or a mirror would change, so nothing is augmented."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.images[index], int(self.labels[index])


@dataclass(frozen=True)
class TrainingData:
    """A training run's two splits, its classes and what it is called in reports."""

    name: str
    num_classes: int
    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    held_out: str = ""  # where the held-out images come from, in words

    def describe(self) -> str:
        where = f" ({self.held_out})" if self.held_out else ""
        return (f"{self.name}: {self.num_classes} classes, {len(self.train):,} train / "
                f"{len(self.val):,} held-out{where} images")


def open_data(path: str | Path | None, size: int, val_fraction: float | None,
              seed: int) -> TrainingData:
    """The images at `path` (an ImageFolder, split or not, streamed from disk; CIFAR python
    pickles, held in RAM as uint8), or the built-in task (None)."""
    if path is None:
        task = datasets.builtin(seed=seed)
        return TrainingData(task.name, task.num_classes, Normalised(*task.train(size)),
                            Normalised(*task.val(size)))
    root = Path(path)
    if root.is_dir() and datasets.is_cifar(root):
        cifar = datasets.load(root, val_fraction=val_fraction, seed=seed, load_size=32)
        pairs = lambda split: list(zip(split[0], split[1].tolist()))  # noqa: E731
        return TrainingData(cifar.name, cifar.num_classes,
                            Images(pairs(cifar.raw_split("train")), size, True, seed),
                            Images(pairs(cifar.raw_split("val")), size, False, seed),
                            cifar.held_out)
    index = index_folder(root, val_fraction, seed)
    return TrainingData(f"imagefolder:{root.name}", len(index.classes),
                        Images(index.train, size, True, seed), Images(index.val, size, False, seed),
                        index.held_out)


def to_input(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch as the network takes it: uint8 images normalised on the device (floats as
    they are)."""
    batch = batch.to(device, non_blocking=True)
    if batch.dtype != torch.uint8:
        return batch
    x = batch.float() / 255.0
    return (x - MEAN.to(device)) / STD.to(device)
