"""Image folders on disk: the one scanner and the one split rule every loader uses (the proxy's
in-memory sets and `mfsearch train`'s streamed ones), so both see the same layout the same way."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .. import defaults
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
    """root/val (or valid, validation, test) when root/train is there too: the split to use.
    A train/ without one is refused rather than taken for a class folder."""
    held_out = next((root / n for n in HELD_OUT_FOLDERS if (root / n).is_dir()), None)
    if not (root / "train").is_dir():
        return None
    if held_out is None:
        raise UserError(f"--data {root}: train/ has no held-out folder beside it (one of "
                        f"{', '.join(n + '/' for n in HELD_OUT_FOLDERS)}); add one, or pass "
                        f"--data {root / 'train'} to hold out --val-fraction of it")
    return held_out


def class_folders(root: Path, where: str) -> list[str]:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise UserError(f"--data {where}: expected an ImageFolder layout (one sub-folder per "
                        f"class, at least 2) or CIFAR python pickles; found {len(classes)} "
                        "class folders")
    return classes


def image_files(root: Path, classes: list[str]) -> list[tuple[Path, int]]:
    """Every image of the class folders with its label, in a fixed order. A class folder
    without images is refused: it would be trained as a class no image shows."""
    files = [(f, i) for i, c in enumerate(classes) for f in sorted((root / c).rglob("*"))
             if f.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise UserError(f"--data {root}: no images (jpg/png/bmp/webp) in the class folders")
    empty = sorted(set(classes) - {classes[label] for _, label in files})
    if empty:
        raise UserError(f"--data {root}: {len(empty)} class folder{'s' if len(empty) > 1 else ''}"
                        f" without images ({', '.join(empty)}); remove "
                        f"{'them' if len(empty) > 1 else 'it'} or add images")
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


def stratified_subset(labels: torch.Tensor, count: int | None, seed: int) -> torch.Tensor:
    """At most `count` indices (all when None or enough), each class keeping its share (largest
    remainders first), drawn by `seed`; in the original order."""
    n = labels.numel()
    if count is None or count >= n:
        return torch.arange(n)
    classes, sizes = labels.unique(return_counts=True)
    exact = sizes.double() * count / n
    take = exact.floor().long()
    extra = count - int(take.sum())
    take[torch.argsort(-(exact - take), stable=True)[:extra]] += 1
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c, k in zip(classes.tolist(), take.tolist()):
        idx = (labels == c).nonzero().flatten()
        chosen.append(idx[torch.randperm(idx.numel(), generator=g)[:k]])
    return torch.cat(chosen).sort().values


@dataclass(frozen=True)
class FolderIndex:
    """An image folder's files, split: (path, label) lists, the class names, and the held-out
    split in words."""

    root: Path
    classes: tuple[str, ...]
    train: tuple[tuple[Path, int], ...]
    val: tuple[tuple[Path, int], ...]
    held_out: str


def _subset(files: list[tuple[Path, int]], count: int | None,
            seed: int) -> tuple[tuple[Path, int], ...]:
    keep = stratified_subset(torch.tensor([label for _, label in files]), count, seed)
    return tuple(files[i] for i in keep.tolist())


def index_folder(root: str | Path, val_fraction: float | None, seed: int,
                 max_train: int | None = None, max_val: int | None = None) -> FolderIndex:
    """root/train + root/val (or test...) as they are, or one folder of class folders split by
    `split_indices` (`val_fraction`; None: the default). Each split can be capped to a seeded
    subset stratified by class; nothing is decoded here."""
    root = check_folder(Path(root))
    held_out = held_out_folder(root)
    if held_out is not None:
        if val_fraction is not None:
            raise UserError(f"--val-fraction {val_fraction}: {root} has its own held-out "
                            f"folder {held_out.name}/, which is used as it is")
        classes = class_folders(root / "train", str(root / "train"))
        same_classes(root, held_out, classes, class_folders(held_out, str(held_out)))
        train, val = image_files(root / "train", classes), image_files(held_out, classes)
        words = f"{held_out.name}/"
    else:
        fraction = defaults.VAL_FRACTION if val_fraction is None else val_fraction
        classes = class_folders(root, str(root))
        files = image_files(root, classes)
        tr, va = split_indices(torch.tensor([label for _, label in files]), fraction, seed)
        train, val = [files[i] for i in tr.tolist()], [files[i] for i in va.tolist()]
        words = f"{fraction:.0%} of each class held out (seed {seed})"
    return FolderIndex(root, tuple(classes), _subset(train, max_train, seed),
                       _subset(val, max_val, seed), words)
