"""A built-in, deterministic, procedurally generated classification task ("bearings").

Each image holds an anchor ring and a target (a circle, square, triangle or cross in a random
colour) apart from it. The label is the target's bearing from the anchor in 8 sectors of 45
degrees (0 = right, clockwise on the screen). No single location tells the class: the model
must find both objects and relate their positions, so global context (the Former and the bridge)
matters. Sectors leave a 10% margin on each side so labels are unambiguous.

Every image has its own difficulty d in [0, 1]: as d grows the objects shrink, the background
gets a stronger tint, wave and noise, and up to three distractor blobs appear. d is drawn as the
square of a uniform number, so most images are easy and a tail is hard: easy images give a
gradient from the first steps and hard ones keep improving with training, so accuracy climbs
gradually instead of in one jump.

Why it looks like this: docs/decisions.md ("The built-in task").
"""

from __future__ import annotations

import math

import torch

SHAPES = ("circle", "square", "triangle", "cross")
NUM_CLASSES = 8
SECTOR_DEGREES = 360 / NUM_CLASSES
SECTOR_MARGIN = 0.1  # fraction of a sector left empty on each side
DISTRACTORS = 3  # each present with probability d


def _shape_masks(kind: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, size: torch.Tensor,
                 grid_x: torch.Tensor, grid_y: torch.Tensor) -> torch.Tensor:
    """Boolean masks [N, R, R] of one shape per image (kind indexes SHAPES)."""
    dx = grid_x[None] - cx[:, None, None]
    dy = grid_y[None] - cy[:, None, None]
    s = size[:, None, None]
    circle = dx ** 2 + dy ** 2 <= s ** 2
    square = torch.maximum(dx.abs(), dy.abs()) <= 0.85 * s
    triangle = (dy <= s) & (dy >= -s) & (dx.abs() <= (dy + s) / 2)
    bar = s / 3
    cross = ((dx.abs() <= bar) & (dy.abs() <= s)) | ((dy.abs() <= bar) & (dx.abs() <= s))
    masks = torch.stack([circle, square, triangle, cross], dim=1)  # N, 4, R, R
    return masks[torch.arange(kind.numel()), kind]


def generate(count: int, resolution: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` images [N, 3, R, R] (float, roughly zero-mean) and labels [N], deterministic in seed."""
    g = torch.Generator().manual_seed(seed)
    r = resolution
    u = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    labels = torch.randint(0, NUM_CLASSES, (count,), generator=g)
    difficulty = u(count) ** 2  # mostly easy, a hard tail
    d = difficulty[:, None, None, None]

    # Anchor anywhere with room; target at distance >= 0.3 r at a bearing inside the labelled
    # sector (away from its edges), in one of the four shapes.
    size = r * (0.15 - 0.08 * difficulty)
    margin = size + 1
    dist = r * (0.3 + 0.25 * u(count))
    within = SECTOR_MARGIN + (1 - 2 * SECTOR_MARGIN) * u(count)
    theta = (labels.float() + within) * math.radians(SECTOR_DEGREES)
    offset = torch.stack([torch.cos(theta), torch.sin(theta)], 1) * dist[:, None]  # y points down
    shape = torch.randint(0, len(SHAPES), (count,), generator=g)
    lo = margin[:, None] + torch.clamp(-offset, min=0)
    hi = (r - 1 - margin)[:, None] - torch.clamp(offset, min=0)
    anchor = lo + (hi - lo).clamp(min=0) * u(count, 2)
    target = anchor + offset

    coords = torch.arange(r, dtype=torch.float32)
    grid_y, grid_x = torch.meshgrid(coords, coords, indexing="ij")

    # Background: per-image tinted gradient plus noise, all growing with the difficulty.
    tint = (u(count, 3, 1, 1) * 0.6 - 0.3) * d
    phase = u(count, 1, 1) * 2 * math.pi
    wave = torch.sin(grid_x[None] / r * 2 * math.pi * 0.5 * (1 + u(count, 1, 1)) + phase)
    images = tint + 0.15 * d * wave[:, None] + (0.05 + 0.25 * d) * torch.randn(
        count, 3, r, r, generator=g)

    def paint(mask: torch.Tensor, colour: torch.Tensor, keep: torch.Tensor | None = None) -> None:
        m = mask[:, None].float()
        if keep is not None:
            m = m * keep[:, None, None, None]
        images.mul_(1 - m).add_(m * colour[:, :, None, None])

    # Distractors: small blobs of random shape and colour, more of them on harder images.
    for _ in range(DISTRACTORS):
        kind = torch.randint(0, len(SHAPES), (count,), generator=g)
        present = (u(count) < difficulty).float()
        paint(_shape_masks(kind, u(count) * r, u(count) * r, r * (0.03 + 0.02 * u(count)),
                           grid_x, grid_y), u(count, 3) * 2 - 1, present)
    # Anchor: a ring, always bright; target: the labelled shape in a random saturated colour.
    ring = torch.zeros(count, dtype=torch.long)
    ring_out = _shape_masks(ring, anchor[:, 0], anchor[:, 1], size, grid_x, grid_y)
    ring_in = _shape_masks(ring, anchor[:, 0], anchor[:, 1], size * 0.5, grid_x, grid_y)
    paint(ring_out & ~ring_in, torch.full((count, 3), 1.5))
    hue = u(count, 3)
    colour = (hue - hue.mean(dim=1, keepdim=True)) * 2.5
    paint(_shape_masks(shape, target[:, 0], target[:, 1], size, grid_x, grid_y), colour)
    return images.contiguous(), labels
