"""Peak memory of `mfsearch train` against the dataset's size: generates N random PNG images in
C class folders under DIR (if not there yet), trains one epoch on them in a subprocess, and
prints the peak memory of the training process and its DataLoader workers together (the sum of
their resident sets, sampled every 0.1 s from /proc), with the wall time.

    python benchmarks/train_memory.py /tmp/train20k --images 20000
    python benchmarks/train_memory.py /tmp/train200k --images 200000

reports/train-cifar10/RUN.md records a run of both."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from data_memory import ensure_images, image_folder_args


def tree_memory(pid: int) -> tuple[int, int]:
    """(resident, proportional) bytes of `pid` and all its descendants (Linux /proc). The
    proportional set size splits pages shared between processes (the libraries every
    DataLoader worker maps, copy-on-write pages) among them, so its sum is the memory the
    tree takes; the sum of resident sets counts shared pages once per process."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    rss = pss = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except OSError:
            pass
        todo += children.get(p, [])
    return rss, pss


def main() -> None:
    parser = image_folder_args(__doc__, 32)
    parser.add_argument("--model", default="mobile-former-26m")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    ensure_images(args)
    out = args.root.parent / f"{args.root.name}-run"
    command = [sys.executable, "-m", "mfsearch", "train", args.model, "--data", str(args.root),
               "--epochs", "1", "--res", str(args.size), "--batch", str(args.batch),
               "--workers", str(args.workers), "--device", "cpu", "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    peak_rss = peak_pss = 0
    while proc.poll() is None:
        rss, pss = tree_memory(proc.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.1)
    if proc.returncode:
        sys.exit(proc.stderr.read())
    print(f"{args.images} images, {args.model}, 1 epoch at batch {args.batch}, "
          f"{args.workers} workers: {time.perf_counter() - start:.0f} s, peak memory of the "
          f"process and its workers {peak_pss / 2**30:.2f} GiB proportional "
          f"({peak_rss / 2**30:.2f} GiB summing each one's resident set)")


if __name__ == "__main__":
    main()
