"""Short proxy training: rank candidate architectures after a few dozen AdamW steps with a cosine
schedule, on small images, by how fast they learn (mean training loss) or by held-out top-1."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import Dataset
from ..devices import resolve_device
from ..families import build_trainable
from .config import ProxyConfig


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the trial fails with this reason."""


@dataclass
class ProxyResult:
    accuracy: float  # held-out top-1, in [0, 1]
    train_loss: float  # mean training loss over all steps
    final_loss: float
    steps: int
    seconds: float
    device: str

    def scored(self, kind: str) -> float:
        """The run's score of that kind (one of SCORES): higher is better."""
        return -self.train_loss if kind == "loss" else self.accuracy


def lr_at(step: int, cfg: ProxyConfig) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * progress))


def train_proxy(spec, data: Dataset, cfg: ProxyConfig, progress=None, phase=None,
                checkpoint: Path | None = None) -> ProxyResult:
    """Train `spec` (classifier resized to the dataset) and return its score and held-out top-1.

    Deterministic on CPU for a given seed: same batches, same initialisation.
    `progress(step, loss)` is called after every step when given (it also keeps a shared
    study's heartbeat), `phase(name)` when BatchNorm calibration and evaluation start. With a
    `checkpoint` path the trained weights are saved there before scoring, and a later call
    with the same path scores them without training again (an interrupted scoring loses no
    training).
    """
    cfg.check()
    # Denormal floats make some candidates train several times slower per step on CPU;
    # flushing them to zero costs nothing in accuracy. The flag is process-wide, so it is set
    # only while training.
    torch.set_flush_denormal(True)
    try:
        return _train(spec, data, cfg, progress, phase, checkpoint)
    finally:
        torch.set_flush_denormal(False)


def _train(spec, data: Dataset, cfg: ProxyConfig, progress, phase,
           checkpoint: Path | None) -> ProxyResult:
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    spec = spec.replace(num_classes=data.num_classes)
    model = build_trainable(spec, cfg.resolution).to(device)
    exempt = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and n not in exempt]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1 or n in exempt]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    x_train, y_train = data.train(cfg.resolution)
    x_val, y_val = data.val(cfg.resolution)
    saved = _load_trained(checkpoint, model) if checkpoint is not None else None
    if saved is None:
        loss_sum, loss_value, seconds = _steps(model, opt, x_train, y_train, cfg, device,
                                               progress)
        if checkpoint is not None:
            _save_trained(checkpoint, model, loss_sum, loss_value, seconds)
    else:
        loss_sum, loss_value, seconds = saved
    start = time.perf_counter()
    if phase is not None:
        phase("calibrating BatchNorm")
    calibrate_batchnorm(model, x_train[:cfg.bn_calibration], cfg.batch_size, device)
    if phase is not None:
        phase("evaluating")
    accuracy = evaluate(model, x_val, y_val, device)
    train_loss = loss_sum / cfg.steps
    return ProxyResult(accuracy=accuracy, train_loss=train_loss, final_loss=loss_value,
                       steps=cfg.steps, seconds=seconds + time.perf_counter() - start,
                       device=str(device))


def _steps(model, opt, x_train, y_train, cfg: ProxyConfig, device, progress):
    """The training loop: (sum of the step losses, the last loss, seconds)."""
    g = torch.Generator().manual_seed(cfg.seed)
    n = x_train.shape[0]
    order = torch.randperm(n, generator=g)
    cursor = 0
    start = time.perf_counter()
    model.train()
    loss_value, loss_sum = float("nan"), 0.0
    for step in range(cfg.steps):
        if cursor + cfg.batch_size > n:
            order, cursor = torch.randperm(n, generator=g), 0
        idx = order[cursor: cursor + cfg.batch_size]
        cursor += cfg.batch_size
        xb, yb = x_train[idx].to(device), y_train[idx].to(device)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = F.cross_entropy(model(xb), yb, label_smoothing=cfg.label_smoothing)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise TrainingDiverged(f"loss became {loss_value} at step {step + 1}")
        loss_sum += loss_value
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step + 1, loss_value)
    return loss_sum, loss_value, time.perf_counter() - start


def _save_trained(path: Path, model, loss_sum: float, loss_value: float,
                  seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"state": model.state_dict(), "loss_sum": loss_sum, "loss_value": loss_value,
                "seconds": seconds}, tmp)
    tmp.replace(path)


def _load_trained(path: Path, model):
    """(loss sum, last loss, seconds) of weights saved by an earlier call, loaded into
    `model`; None when there are none."""
    if not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(saved["state"])
    return saved["loss_sum"], saved["loss_value"], saved["seconds"]


@torch.no_grad()
def calibrate_batchnorm(model: torch.nn.Module, x: torch.Tensor, batch_size: int,
                        device: torch.device) -> None:
    """Replace every BatchNorm's running statistics by averages over `x` (train-size
    batches through the final weights; dropout stays off).

    A short run ends while the weights still move, so the running averages (momentum 0.1) lag
    the final network and, uncorrected, decide much of the ranking (docs/decisions.md). The
    same recalibration is standard in weight-sharing NAS (single-path one-shot,
    once-for-all)."""
    norms = [m for m in model.modules()
             if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d))]
    if not norms or x.shape[0] < 2:
        return
    model.eval()
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
        m.train()
    for i in range(0, x.shape[0], batch_size):
        chunk = x[i: i + batch_size]
        if chunk.shape[0] > 1:  # BatchNorm1d refuses a batch of one in train mode
            model(chunk.to(device))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()


@torch.inference_mode()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
             batch_size: int = 256) -> float:
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        logits = model(x[i: i + batch_size].to(device))
        correct += (logits.argmax(1).cpu() == y[i: i + batch_size]).sum().item()
    return correct / max(1, x.shape[0])
