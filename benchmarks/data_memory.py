"""Peak memory of loading a user's image folder: generates N random PNG images in C class
folders under DIR (if not there yet), loads them as a search does (its default --max-images
subset, stratified by class, decoded once at the proxy's resolution, uint8), builds the float
tensors the proxy trains on, and prints the load time and the peak RSS.

    python benchmarks/data_memory.py /tmp/images20k --images 20000 --res 32

reports/data_memory.md records a run and the whole-search figure beside it."""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from PIL import Image


def generate(root: Path, images: int, classes: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(images):
        folder = root / f"class{i % classes:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
            folder / f"{i:06d}.png")


def image_folder_args(doc: str, size: int) -> argparse.ArgumentParser:
    """The options of a benchmark on a generated image folder."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--size", type=int, default=size, help="side of the generated images")
    return parser


def ensure_images(args: argparse.Namespace) -> None:
    """Generate the folder the options name unless it is there."""
    if not args.root.exists():
        start = time.perf_counter()
        generate(args.root, args.images, args.classes, args.size)
        print(f"generated {args.images} images of {args.size} px in "
              f"{time.perf_counter() - start:.0f} s")


def main() -> None:
    parser = image_folder_args(__doc__, 96)
    parser.add_argument("--res", type=int, default=32, help="the proxy's resolution")
    parser.add_argument("--max-images", type=int, help="as `mfsearch budget --max-images` "
                        "(default: the search's own default)")
    args = parser.parse_args()
    ensure_images(args)
    import tempfile

    from mfsearch.jobs import plan_search

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as unused:
        job = plan_search("150M", data=args.root, max_images=args.max_images,
                          proxy={"resolution": args.res}, out=unused)
        ds = job.data.load()
    loaded = time.perf_counter() - start
    ds.train(args.res), ds.val(args.res)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{ds.describe(args.res)}; loaded in {loaded:.1f} s (scan, subset, decode); "
          f"peak RSS {peak:.2f} GiB")


if __name__ == "__main__":
    main()
