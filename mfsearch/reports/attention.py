"""`mfsearch attention`: what the two-way bridge attends to on one image, drawn as the paper's
Figures 4-7, with the raw arrays beside the figures.

Per chosen block: the Mobile->Former map of every token and head (normalised over pixels) and the
Mobile<-Former map of every token and head (normalised over tokens), both upsampled over the
image; the first token's Mobile->Former map across the chosen blocks (Figure 5); and the
per-pixel argmax token of Mobile<-Former at the middle chosen block (Figure 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..families import family_of
from ..figures import colormap, new_figure, save_figure

__all__ = ["AttentionResult", "load_image", "parse_blocks", "run_attention"]

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # ImageNet statistics
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_SHOWN = ("mobile_to_former", "Mobile->Former (over pixels)"), \
    ("former_to_mobile", "Mobile<-Former (over tokens)")


@dataclass
class AttentionResult:
    model: str
    blocks: list[int]
    maps: dict[int, dict[str, np.ndarray]]
    files: list[Path]
    trained: bool


def load_image(path: str | Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(normalised 1x3xSxS float array, the SxSx3 uint8 crop it came from): the shorter side
    resized to `size`, then a centre crop, as classifiers are evaluated."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
    except FileNotFoundError:
        raise UserError(f"{path}: no such image") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise UserError(f"{path}: not an image Pillow can read ({exc})") from None
    scale = size / min(img.size)
    w, h = max(size, round(img.width * scale)), max(size, round(img.height * scale))
    img = img.resize((w, h), Image.BICUBIC)
    left, top = (w - size) // 2, (h - size) // 2
    crop = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.uint8)
    x = (crop.astype(np.float32) / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1)[None].copy(), crop


def parse_blocks(text: str | None, count: int) -> list[int]:
    """Block numbers (1-based) from "2,4,8"; all blocks when None."""
    if text is None:
        return list(range(1, count + 1))
    try:
        blocks = sorted({int(b) for b in text.split(",") if b.strip()})
    except ValueError:
        raise UserError(f"--blocks: expected comma-separated block numbers, got {text!r}") from None
    bad = [b for b in blocks if not 1 <= b <= count]
    if bad or not blocks:
        raise UserError(f"--blocks: the model has blocks 1-{count}, got {text!r}")
    return blocks


def _overlay(ax, crop: np.ndarray, heat: np.ndarray, title: str, cmap: str = "jet") -> None:
    size = crop.shape[0]
    ax.imshow(crop)
    ax.imshow(heat, extent=(0, size, size, 0), alpha=0.55, cmap=cmap, interpolation="bilinear")
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def _block_figure(maps: dict[str, np.ndarray], crop, title: str, path: Path) -> Path:
    heads, tokens = maps["mobile_to_former"].shape[:2]
    fig, axes = new_figure(2 * heads, tokens, figsize=(1.5 * tokens, 1.6 * 2 * heads),
                             squeeze=False)
    for d, (direction, label) in enumerate(_SHOWN):
        for h in range(heads):
            for t in range(tokens):
                _overlay(axes[d * heads + h, t], crop, maps[direction][h, t],
                         f"{label.split(' ')[0]} h{h + 1} t{t + 1}")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return path


def _first_token_figure(maps, blocks, crop, title: str, path: Path) -> Path:
    heads = maps[blocks[0]]["mobile_to_former"].shape[0]
    fig, axes = new_figure(heads, len(blocks), figsize=(1.6 * len(blocks), 1.7 * heads),
                             squeeze=False)
    for j, b in enumerate(blocks):
        for h in range(heads):
            _overlay(axes[h, j], crop, maps[b]["mobile_to_former"][h, 0], f"block {b} h{h + 1}")
    fig.suptitle(f"{title}\nthe first token's Mobile->Former attention, block by block",
                 fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return path


def _argmax_figure(maps, block: int, crop, title: str, path: Path) -> Path:
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    weights = maps[block]["former_to_mobile"]  # heads, tokens, H, W
    heads, tokens = weights.shape[:2]
    palette = colormap("tab10" if tokens <= 10 else "tab20", max(tokens, 2))
    colours = ListedColormap([palette(t) for t in range(tokens)])
    fig, axes = new_figure(1, heads, figsize=(2.6 * heads + 1.2, 2.9), squeeze=False)
    for h in range(heads):
        _overlay(axes[0, h], crop, weights[h].argmax(axis=0), f"head {h + 1}", cmap=colours)
        axes[0, h].images[-1].set_clim(-0.5, tokens - 0.5)
    fig.legend(handles=[Patch(color=colours(t), label=f"token {t + 1}") for t in range(tokens)],
               loc="center right", fontsize=7)
    fig.subplots_adjust(right=0.8)
    fig.suptitle(f"{title}\nblock {block}: the token each pixel attends to most "
                 f"(Mobile<-Former, {tokens} tokens)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 0.82, 1))
    save_figure(fig, path, dpi=110)
    return path


def _readme(spec, image, chosen, state: str, command: str) -> str:
    return "\n".join([
        f"# Cross-attention maps: {spec.name} on {Path(image).name}", "",
        f"Made by `{command}`; {state}.", "",
        f"- `block<N>.png` (blocks {', '.join(map(str, chosen))}): rows 1-{spec.bridge_heads}, "
        "Mobile->Former attention of each head (row) and token (column), normalised over the "
        "block's input pixels; the rows after them, Mobile<-Former attention of each head and "
        "token, normalised over the tokens at each output pixel. Each panel is upsampled over "
        "the image and coloured on its own scale.",
        "- `first_token.png`: the first token's Mobile->Former map in each chosen block, per head "
        "(the paper's Figure 5).",
        f"- `argmax_tokens.png`: at block {chosen[len(chosen) // 2]}, the token each pixel "
        "attends to most in Mobile<-Former, per head (Figure 6).",
        "- `attention.npz`: the arrays, `block<N>_mobile_to_former` and "
        "`block<N>_former_to_mobile`, each heads x tokens x H x W.", ""])


def run_attention(model, image: str | Path, out: Path, blocks: str | None = None,
                  trained: bool = False, command: str = "mfsearch attention",
                  spec=None) -> AttentionResult:
    """Maps of `model` (a torch model of a family with a bridge) on `image`, written to `out`:
    attention.npz, block<N>.png, first_token.png, argmax_tokens.png and a README.md. `spec`:
    the model's spec, where the model does not carry it as `.spec`."""
    import torch

    from .files import claim, remember

    spec = spec if spec is not None else model.spec
    family = family_of(spec)
    if family.attention is None:
        raise UserError(f"{spec.name}: {family.display.title} has no cross-attention bridge to look into")
    chosen = parse_blocks(blocks, len(model.blocks))
    size = getattr(model, "resolution", 224)
    x, crop = load_image(image, size)
    _, maps = family.attention_maps(model.eval(), torch.from_numpy(x))
    maps = {b: maps[b] for b in chosen}
    names = ["README.md", "attention.npz", "first_token.png", "argmax_tokens.png",
             *(f"block{b}.png" for b in chosen)]
    claim(out, names)
    state = "trained weights" if trained else "UNTRAINED weights (no --weights given)"
    title = f"{spec.name}, {state}, {Path(image).name}"
    np.savez_compressed(out / "attention.npz", **{f"block{b}_{d}": a for b in chosen
                                                  for d, a in maps[b].items()})
    files = [out / "attention.npz"]
    files += [_block_figure(maps[b], crop, f"{title}: block {b}", out / f"block{b}.png")
              for b in chosen]
    files.append(_first_token_figure(maps, chosen, crop, title, out / "first_token.png"))
    files.append(_argmax_figure(maps, chosen[len(chosen) // 2], crop, title,
                                out / "argmax_tokens.png"))
    (out / "README.md").write_text(_readme(spec, image, chosen, state, command),
                                   encoding="utf-8")
    files.append(out / "README.md")
    remember(out, names)
    return AttentionResult(model=spec.name, blocks=chosen, maps=maps, files=files,
                           trained=trained)
