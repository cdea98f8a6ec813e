"""Proxy training on an accelerator: the data, the batch indices and the losses stay on the
device, and the whole step (forward, backward, AdamW) is captured once in a CUDA graph and
replayed.

Eager CUDA training of these networks is bound by kernel launches (the dynamic ReLU, the bridges
and the Former are many small kernels): a graph replays a step's kernels with one launch. The
host reads the losses only at rungs, at the end and about once a second for progress, so it
never waits on the device step by step. Measurements: reports/gpu.md.

The CPU path (`train.train_proxy`) is untouched: `train` below sends CPU trainings there, so
their scores, and the logged fidelity trainings keyed on that code, stay as they were.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path

import torch

from ..data import Dataset
from ..devices import resolve_device
from ..errors import UserError
from ..families import build_trainable
from .config import ProxyConfig
from .options import DeviceOptions
from .steps import Steps, autocast_for
from .train import ProxyResult, TrainingDiverged, calibrate_batchnorm, evaluate, train_proxy

__all__ = ["check_devices", "deterministic_algorithms", "load_trained", "on_device",
           "on_devices", "save_trained", "train", "train_on_device", "train_together"]

# Held-out images evaluated per forward pass: one or two passes for the proxy's splits.
EVAL_BATCH = 4096
# cuBLAS needs a fixed workspace to repeat its results (CUDA's reproducibility notes).
CUBLAS_WORKSPACE = ":4096:8"


def check_devices(names) -> tuple[str, ...]:
    """Device names for parallel trainings (cpu, cuda, cuda:N), each one there to use."""
    checked = []
    for name in names:
        if name == "auto":
            raise UserError("--devices 'auto': expected cpu, cuda or cuda:N")
        checked.append(str(resolve_device(name, "--devices")))
    if not checked:
        raise UserError("--devices: name at least one device (e.g. cuda:0,cuda:1 or cpu,cpu)")
    return tuple(checked)


def on_devices(cfg: ProxyConfig, devices: tuple[str, ...]) -> ProxyConfig:
    """The proxy's settings for trainings on `devices` (all of one kind, the kind
    `cfg.device` names unless that is auto)."""
    kinds = {torch.device(d).type for d in devices}
    if len(kinds) > 1 or (cfg.device != "auto" and cfg.device not in kinds):
        raise UserError(f"--devices {','.join(devices)}: use devices of one kind, the kind "
                        f"--device names ({cfg.device})")
    return dataclasses.replace(cfg, device=kinds.pop())


def train(spec, data: Dataset, cfg: ProxyConfig, options: DeviceOptions | None = None,
          progress=None, phase=None, checkpoint: Path | None = None,
          read_at: tuple[int, ...] = (), info: dict | None = None) -> ProxyResult:
    """Train where `cfg.device` says: the CPU path as it always was, or the device path on
    CUDA. `progress(step, loss)` is called for every step in order; on CUDA the calls come in
    bursts when the host reads the losses: at every step in `read_at` (a search's rungs), at
    the end, and about once a second."""
    if resolve_device(cfg.device).type != "cuda":
        return train_proxy(spec, data, cfg, progress=progress, phase=phase,
                           checkpoint=checkpoint)
    return train_on_device(spec, data, cfg, options or DeviceOptions(), progress, phase,
                           checkpoint, read_at, info)


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool):
    """Torch's deterministic algorithms while training (the setting is process-wide, so the
    previous one comes back after)."""
    if not enabled:
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    before = (torch.are_deterministic_algorithms_enabled(),
              torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[1:]


def train_on_device(spec, data: Dataset, cfg: ProxyConfig, options: DeviceOptions,
                    progress=None, phase=None, checkpoint: Path | None = None,
                    read_at: tuple[int, ...] = (), info: dict | None = None) -> ProxyResult:
    """The device path (also runnable on a CPU, where graphs are unavailable and the steps run
    eagerly: that is how the fallback is tested without a GPU). `info`, when given, learns
    whether the steps ran from a graph ("graphed") and, if capture failed, why ("eager_why")."""
    cfg.check()
    options.check()
    device = resolve_device(cfg.device)
    with deterministic_algorithms(options.deterministic):
        model, x_train, y_train = _build(spec, data, cfg, device)
        autocast = autocast_for(device, options.precision)
        saved = load_trained(checkpoint, model) if checkpoint is not None else None
        if saved is None:
            steps = Steps(model, x_train, y_train, cfg, device, autocast)
            losses, seconds = steps.run(options.graphs, progress, set(read_at))
            if info is not None:
                info.update(graphed=steps.graphed, eager_why=steps.eager_why)
            loss_sum, loss_value = sum(losses), losses[-1]
            if checkpoint is not None:
                save_trained(checkpoint, model, loss_sum, loss_value, seconds)
        else:
            loss_sum, loss_value, seconds = saved
        start = time.perf_counter()
        accuracy = _score(model, x_train, data, cfg, device, autocast, phase)
        seconds += time.perf_counter() - start
    return ProxyResult(accuracy=accuracy, train_loss=loss_sum / cfg.steps,
                       final_loss=loss_value, steps=cfg.steps, seconds=seconds,
                       device=str(device))


def train_together(tasks: list[tuple], data: Dataset,
                   options: DeviceOptions) -> list[ProxyResult | TrainingDiverged]:
    """Several (spec, cfg) proxies at once on one device, from this one thread: each is built
    and captured in turn (no capture overlaps another training's work, which is what breaks
    captures in threads: reports/gpu.md), then their steps replay interleaved, each training on
    a CUDA stream of its own, so the GPU can run their small kernels side by side. Results come
    in task order; a training that diverged gives its TrainingDiverged. Dropout draws from the
    shared device generator in the order of the replays, so on CUDA a training here does not
    repeat `train_on_device` bit for bit (--deterministic trains one at a time instead)."""
    options.check()
    if options.deterministic:
        results = []
        for spec, cfg in tasks:
            try:
                results.append(train_on_device(spec, data, cfg, options))
            except TrainingDiverged as exc:
                results.append(exc)
        return results
    runs = []
    start = time.perf_counter()
    for spec, cfg in tasks:
        cfg.check()
        device = resolve_device(cfg.device)
        stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        with _on_stream(stream):
            model, x_train, y_train = _build(spec, data, cfg, device)
            steps = Steps(model, x_train, y_train, cfg, device,
                           autocast_for(device, options.precision))
            steps.prepare(options.graphs)
        runs.append((steps, stream))
    while any(steps.done < steps.cfg.steps for steps, _ in runs):
        for steps, stream in runs:
            if steps.done < steps.cfg.steps:
                with _on_stream(stream):
                    steps.advance()
    results: list[ProxyResult | TrainingDiverged] = []
    for steps, stream in runs:
        with _on_stream(stream):
            try:
                steps.read(None)
            except TrainingDiverged as exc:
                results.append(exc)
                continue
            accuracy = _score(steps.model, steps.x, data, steps.cfg, steps.device,
                              steps.autocast, None)
        losses = steps.losses_read
        results.append(ProxyResult(accuracy=accuracy, train_loss=sum(losses) / len(losses),
                                   final_loss=losses[-1], steps=steps.cfg.steps,
                                   seconds=time.perf_counter() - start,
                                   device=str(steps.device)))
    return results


def _on_stream(stream):
    return torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext()


def _build(spec, data: Dataset, cfg: ProxyConfig, device: torch.device):
    """The seeded model (classifier resized to the data) and the training split on `device`."""
    torch.manual_seed(cfg.seed)
    model = build_trainable(spec.replace(num_classes=data.num_classes), cfg.resolution)
    model = model.to(device)
    x_train, y_train = (on_device(t, device) for t in data.train(cfg.resolution))
    return model, x_train, y_train


def _score(model, x_train, data: Dataset, cfg: ProxyConfig, device, autocast, phase) -> float:
    """Held-out top-1 after BatchNorm calibration, both in large batches."""
    x_val, y_val = data.val(cfg.resolution)
    if phase is not None:
        phase("calibrating BatchNorm")
    with autocast():
        calibrate_batchnorm(model, x_train[:cfg.bn_calibration],
                            max(cfg.batch_size, cfg.bn_calibration), device)
        if phase is not None:
            phase("evaluating")
        return evaluate(model, on_device(x_val, device), y_val, device, batch_size=EVAL_BATCH)


# The last device copy of each tensor trained on: a search's trainings all read the same splits,
# which are copied to the device once per process rather than once per training.
_COPIES: dict[int, tuple[torch.Tensor, torch.device, torch.Tensor]] = {}


def on_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if tensor.device == device:
        return tensor
    held = _COPIES.get(id(tensor))
    if held is None or held[0] is not tensor or held[1] != device:
        if len(_COPIES) >= 4:  # the splits of one dataset; another dataset replaces them
            _COPIES.clear()
        held = _COPIES[id(tensor)] = (tensor, device, tensor.to(device))
        if device.type == "cuda":  # complete before another stream reads it
            torch.cuda.current_stream(device).synchronize()
    return held[2]


def save_trained(path: Path, model, loss_sum: float, loss_value: float, seconds: float) -> None:
    """Trained weights waiting to be scored, in the format the CPU path writes (either path
    resumes the other's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")  # workers may save one architecture
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state": state, "loss_sum": loss_sum, "loss_value": loss_value,
                "seconds": seconds}, partial)
    partial.replace(path)


def load_trained(path: Path, model) -> tuple[float, float, float] | None:
    """(loss sum, last loss, seconds) of weights saved by an earlier run, loaded into `model`;
    None when there are none."""
    if not path.is_file():
        return None
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(saved["state"])
    return saved["loss_sum"], saved["loss_value"], saved["seconds"]
