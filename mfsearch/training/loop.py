"""One real training, start to end, in one process or several (torchrun: one per GPU, or
several on a CPU with gloo). Every epoch ends with a checkpoint written by rank 0 alone; a rerun
on the same folder resumes after the last completed epoch and ends with the same weights as an
uninterrupted run."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch.optim.swa_utils import AveragedModel

from ..devices import resolve_device
from ..errors import UserError
from ..families import build_trainable
from .data import TrainingData, to_input
from .outputs import RUN_FILE, finish
from .settings import TrainSettings

CHECKPOINT = "checkpoint.pt"
EVAL_BATCH = 256


@dataclass
class TrainEvent:
    """What a training reports: "start" (info), "step" (epoch, step, steps, loss,
    images_per_s), "epoch" (the epoch's history row), "resume" (epoch)."""

    kind: str
    epoch: int = 0
    step: int = 0
    steps: int = 0
    loss: float = float("nan")
    images_per_s: float = 0.0
    info: dict = field(default_factory=dict)


@dataclass
class Placement:
    """This process's place in a run: its rank among `world` processes and its device."""

    rank: int
    world: int
    device: torch.device

    @property
    def writes(self) -> bool:
        return self.rank == 0


def launched() -> tuple[int, int]:
    """(rank, world size) as torchrun sets them in the environment; (0, 1) for one process."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def place(device_name: str) -> Placement:
    """One process, or one of torchrun's (`launched`, and LOCAL_RANK for the GPU): the
    process group starts here (NCCL on GPUs, gloo on CPUs)."""
    world = launched()[1]
    device = resolve_device(device_name)
    if world == 1:
        return Placement(0, 1, device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Placement(dist.get_rank(), dist.get_world_size(), device)


def _schedule(settings: TrainSettings, steps_per_epoch: int) -> Callable[[int], float]:
    warmup, total = settings.warmup_epochs * steps_per_epoch, settings.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    return factor


def _optimizer(model: torch.nn.Module, settings: TrainSettings) -> torch.optim.AdamW:
    exempt = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and n not in exempt]
    rest = [p for n, p in model.named_parameters() if p.ndim <= 1 or n in exempt]
    return torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=settings.lr)


@torch.no_grad()
def evaluate(model: torch.nn.Module, data, device: torch.device, autocast) -> tuple[float, float]:
    """(mean loss, top-1) on `data`, in eval mode."""
    model.eval()
    loader = torch.utils.data.DataLoader(data, batch_size=EVAL_BATCH, shuffle=False)
    loss_sum, correct, count = 0.0, 0, 0
    for x, y in loader:
        y = y.to(device)
        with autocast():
            logits = model(to_input(x, device)).float()
        loss_sum += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        count += y.numel()
    return loss_sum / count, correct / count


def _autocast(device: torch.device):
    if device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    import contextlib

    return contextlib.nullcontext


def run_identity(spec, data: TrainingData, settings: TrainSettings, world: int) -> dict:
    """What a resumed run must share with the run it continues."""
    kept = {k: v for k, v in settings.to_dict().items() if k != "workers"}
    return {"spec": spec.to_dict(), "data": data.describe(), "settings": kept,
            "processes": world}


def check_resumable(out: Path, identity: dict) -> bool:
    """True when `out` holds a run to resume; an error when it holds another run."""
    path = out / RUN_FILE
    if not path.exists():
        return False
    recorded = json.loads(path.read_text())["identity"]
    for key in dict.fromkeys([*recorded, *identity]):
        if recorded.get(key) != identity.get(key):
            raise UserError(f"--out {out} holds another training: its {key} differs; resume "
                            "with the same settings, or start a new --out")
    return True


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # a kill mid-write leaves the previous checkpoint whole


def warmed_ema(decay: float) -> Callable:
    """The EMA update with the usual decay warm-up, min(decay, (1 + n) / (10 + n)) after n
    updates: at a fixed 0.999 a run of a few hundred steps averages mostly the random initial
    weights, and its EMA scores at chance."""
    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor],
               count: torch.Tensor) -> None:
        n = int(count)
        rate = 1.0 - min(decay, (1 + n) / (10 + n))
        for mean, now in zip(averaged, current, strict=True):
            if mean.is_floating_point():
                mean.lerp_(now, rate)
            else:  # BatchNorm's batch counter follows the model
                mean.copy_(now)
    return update


def train_model(spec, data: TrainingData, settings: TrainSettings, out: Path,
                on_event: Callable[[TrainEvent], None] | None = None) -> list[dict]:
    """Train `spec` (classifier resized to the data) with `settings`, checkpointing into `out`
    every epoch; returns the history (one row per epoch). The final weights and their EMA are
    written as our safetensors files."""
    emit = on_event or (lambda event: None)
    where = place(settings.device)
    if settings.batch % where.world:
        raise UserError(f"--batch {settings.batch}: must divide among {where.world} processes")
    torch.manual_seed(settings.seed)
    spec = spec.replace(num_classes=data.num_classes)
    net = build_trainable(spec, settings.resolution).to(where.device)
    model = (torch.nn.parallel.DistributedDataParallel(net) if where.world > 1 else net)
    sampler = torch.utils.data.DistributedSampler(data.train, num_replicas=where.world,
                                                  rank=where.rank, shuffle=True,
                                                  seed=settings.seed, drop_last=True)
    per_process = settings.batch // where.world
    if len(sampler) < per_process:
        raise UserError(f"--batch {settings.batch}: more than the {len(data.train):,} training "
                        "images")
    loader = torch.utils.data.DataLoader(
        data.train, batch_size=per_process, sampler=sampler, drop_last=True,
        num_workers=settings.workers, pin_memory=where.device.type == "cuda",
        generator=torch.Generator().manual_seed(settings.seed))
    steps = len(loader)
    opt = _optimizer(net, settings)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _schedule(settings, steps))
    ema = AveragedModel(net, multi_avg_fn=warmed_ema(settings.ema_decay), use_buffers=True)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
    autocast = _autocast(where.device)
    history: list[dict] = []
    start = 0
    checkpoint = out / CHECKPOINT
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location=where.device, weights_only=True)
        net.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"])
        history, start = state["history"], state["epoch"] + 1
        emit(TrainEvent("resume", epoch=start))
    emit(TrainEvent("start", epoch=start, steps=steps, info={
        "processes": where.world, "device": str(where.device), "data": data.describe()}))
    for epoch in range(start, settings.epochs):
        sampler.set_epoch(epoch)
        data.train.epoch = epoch
        model.train()
        began, loss_sum = time.perf_counter(), torch.zeros((), device=where.device)
        for step, (x, y) in enumerate(loader, 1):
            with autocast():
                loss = criterion(model(to_input(x, where.device)), y.to(where.device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            ema.update_parameters(net)
            loss_sum += loss.detach()
            if where.writes and (step % 10 == 0 or step == steps):
                seconds = time.perf_counter() - began
                emit(TrainEvent("step", epoch=epoch, step=step, steps=steps,
                                loss=loss.item(), images_per_s=step * settings.batch / seconds))
        seconds = time.perf_counter() - began
        if where.writes:
            val_loss, top1 = evaluate(net, data.val, where.device, autocast)
            ema_loss, ema_top1 = evaluate(ema.module, data.val, where.device, autocast)
            row = {"epoch": epoch + 1, "train_loss": round(loss_sum.item() / steps, 6),
                   "val_loss": round(val_loss, 6), "val_top1": round(top1, 6),
                   "ema_val_loss": round(ema_loss, 6), "ema_val_top1": round(ema_top1, 6),
                   "lr": sched.get_last_lr()[0], "seconds": round(seconds, 2),
                   "images_per_s": round(steps * settings.batch / seconds, 1)}
            history.append(row)
            _save(checkpoint, {"model": net.state_dict(), "ema": ema.state_dict(),
                               "optimizer": opt.state_dict(), "schedule": sched.state_dict(),
                               "rng": torch.get_rng_state(), "history": history,
                               "epoch": epoch})
            emit(TrainEvent("epoch", epoch=epoch + 1, info=row))
        if where.world > 1:
            dist.barrier()
    finish(net, ema.module, history, out, where.rank, where.world)
    return history
