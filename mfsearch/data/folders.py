"""Image folders on disk: the one scanner and the one split rule every loader uses (the proxy's
in-memory sets and `mfsearch train`'s streamed ones), so both see the same layout the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import UserError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
# An ImageFolder root holding train/ and one of these uses them as its split.
HELD_OUT_FOLDERS = ("val", "valid", "validation", "test")


def check_folder(root: Path) -> Path:
    if not root.exists():
        raise UserError(f"--data {root}: no such folder")
    if not root.is_dir():
        raise UserError(f"--data {root}: not a folder")
    return root


def held_out_folder(root: Path) -> Path | None:
    """root/val (or valid, validation, test) when root/train is there too: the split to use."""
    held_out = next((root / n for n in HELD_OUT_FOLDERS if (root / n).is_dir()), None)
    return held_out if (root / "train").is_dir() and held_out is not None else None


def class_folders(root: Path, where: str) -> list[str]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise UserError(f"--data {where}: expected an ImageFolder layout (one sub-folder per "
                        f"class, at least 2) or CIFAR python pickles; found {len(classes)} "
                        "class folders")
    return classes


def image_files(root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    """Every image of the class folders with its label, in a fixed order."""
    files = [(f, i) for i, c in enumerate(classes) for f in sorted((root / c).rglob("*"))
             if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise UserError(f"--data {root}: no images (jpg/png/bmp/webp) in the class folders")
    return files


def same_classes(root: Path, held_out: Path, classes: list[str], other: list[str]) -> None:
    if other != classes:
        only = sorted(set(classes) ^ set(other))
        raise UserError(f"--data {root}: train/ and {held_out.name}/ hold different classes "
                        f"({len(classes)} and {len(other)}; first difference: {only[0]!r})"
                        if only else f"--data {root}: train/ and {held_out.name}/ list the "
                        "same classes in another order")


def split_indices(labels: torch.Tensor, val_fraction: float,
                  seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stratified held-out split, deterministic in seed: (train indices, held-out indices)."""
    g = torch.Generator().manual_seed(seed)
    val_idx, train_idx = [], []
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(idx.numel(), generator=g)]
        k = max(1, round(idx.numel() * val_fraction)) if idx.numel() > 1 else 0
        val_idx.append(idx[:k])
        train_idx.append(idx[k:])
    tr, va = torch.cat(train_idx), torch.cat(val_idx)
    if tr.numel() == 0 or va.numel() == 0:
        raise UserError("dataset too small for a held-out split (need >= 2 images per class)")
    return tr, va


@dataclass(frozen=True)
class FolderIndex:
    """An image folder's files, split: (path, label) lists and the class names."""

    root: Path
    classes: tuple[str, ...]
    train: tuple[tuple[Path, int], ...]
    val: tuple[tuple[Path, int], ...]


def index_folder(root: str | Path, val_fraction: float, seed: int) -> FolderIndex:
    """root/train + root/val (or test...) as they are, or one folder of class folders split by
    `split_indices`."""
    root = check_folder(Path(root))
    held_out = held_out_folder(root)
    if held_out is not None:
        classes = class_folders(root / "train", str(root / "train"))
        same_classes(root, held_out, classes, class_folders(held_out, str(held_out)))
        return FolderIndex(root, tuple(classes), tuple(image_files(root / "train", classes)),
                           tuple(image_files(held_out, classes)))
    classes = class_folders(root, str(root))
    files = image_files(root, classes)
    tr, va = split_indices(torch.tensor([label for _, label in files]), val_fraction, seed)
    return FolderIndex(root, tuple(classes), tuple(files[i] for i in tr.tolist()),
                       tuple(files[i] for i in va.tolist()))
