"""What a training leaves in its folder: the final weights and their EMA in our safetensors
format (the spec in the metadata, so `load_model(weights=...)`, `attention` and `export` take
them), `history.csv` and `history.png` (held-out top-1 and loss per epoch), and `train.json`."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.distributed as dist

from ..figures import new_figure, save_figure
from ..models.checkpoint import save_weights

RUN_FILE = "train.json"
HISTORY = "history.csv"
WEIGHTS = "model.safetensors"
EMA_WEIGHTS = "model-ema.safetensors"


def digest(model: torch.nn.Module) -> float:
    """A number every replica of the same weights agrees on exactly (float64 sum of the
    parameters weighted by position). BatchNorm's running statistics are left out: each
    process updates them from its own last batch, and rank 0's are the ones saved."""
    total = torch.zeros((), dtype=torch.float64)
    for i, p in enumerate(model.parameters()):
        total += (i + 1) * p.detach().double().cpu().sum()
    return float(total)


def record_run(out: Path, identity: dict, command: str) -> None:
    """train.json at the start: what this folder trains (a resume must match it)."""
    path = out / RUN_FILE
    if not path.exists():
        path.write_text(json.dumps({"identity": identity, "command": command}, indent=1) + "\n")


def finish(net: torch.nn.Module, ema: torch.nn.Module, history: list[dict], out: Path,
           rank: int, world: int) -> None:
    """Rank 0 writes the weights, their EMA and the history; every process checks first that
    all hold the same weights (recorded in train.json)."""
    digests = [digest(net)]
    if world > 1:
        digests = [None] * world
        dist.all_gather_object(digests, digest(net))
    if rank != 0:
        return
    save_weights(net, out / WEIGHTS)
    save_weights(ema, out / EMA_WEIGHTS)
    write_history(history, out)
    run = json.loads((out / RUN_FILE).read_text())
    run.update(finished=True, epochs=len(history), final=history[-1] if history else None,
               replicas=len(digests), replicas_identical=len(set(digests)) == 1)
    (out / RUN_FILE).write_text(json.dumps(run, indent=1) + "\n")


def write_history(history: list[dict], out: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(history)
    frame.to_csv(out / HISTORY, index=False)
    if frame.empty:
        return
    fig, (top1, loss) = new_figure(1, 2, figsize=(10, 4))
    top1.plot(frame["epoch"], 100 * frame["val_top1"], "o-", label="weights")
    top1.plot(frame["epoch"], 100 * frame["ema_val_top1"], "s--", label="EMA of the weights")
    top1.set_ylabel("held-out top-1 (%)")
    loss.plot(frame["epoch"], frame["train_loss"], "o-", label="training (mean over the epoch)")
    loss.plot(frame["epoch"], frame["val_loss"], "s--", label="held-out")
    loss.set_ylabel("loss")
    for ax in (top1, loss):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "history.png", dpi=110)
