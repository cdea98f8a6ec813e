"""One proxy training's steps on a device: every step reads its batch indices, learning rate
and its slot in the loss log from device tensors indexed by a device counter, so the same step
replays from a CUDA graph with no host input; the host reads the losses when it asks
(`Steps.read`). `proxy.device` drives them, one training at a time or several interleaved."""

from __future__ import annotations

import contextlib
import math
import sys
import time

import torch
import torch.nn.functional as F

from .config import ProxyConfig
from .train import TrainingDiverged, lr_at

__all__ = ["Steps", "autocast_for"]

# Eager steps on a side stream before capture (PyTorch's whole-network capture recipe): they
# let lazy initialisation (cuBLAS handles, optimizer state) happen outside the graph. Their
# effect on the weights and the optimizer is undone before the first real step.
WARMUP_STEPS = 2
# The host reads the losses at least this often (progress, a shared study's heartbeat).
READ_SECONDS = 1.0


def autocast_for(device: torch.device, precision: str):
    """A factory of autocast contexts (bf16), or of null contexts (fp32). The autocast cache
    is off: cached casts would be stale inside a replayed graph."""
    if precision == "bf16":
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext


class Steps:
    """The training steps of one run: `prepare` (optimizer, capture), `advance` one step at a
    time, `read` the losses so far; `run` does all three for a training alone."""

    def __init__(self, model, x_train, y_train, cfg: ProxyConfig, device, autocast):
        self.model, self.x, self.y, self.cfg, self.device = model, x_train, y_train, cfg, device
        self.autocast = autocast
        self.cuda = device.type == "cuda"
        # Plain: AdamW as the CPU path runs it, the learning rate set from the host each step
        # (on a CPU, and after a failed capture). Otherwise fused AdamW reads the learning rate
        # from a device tensor the step itself updates, which a graph can replay.
        self.plain = not self.cuda
        g = torch.Generator(device=device).manual_seed(cfg.seed)
        self.indices = _batch_indices(x_train.shape[0], cfg, g, device)
        self.lrs = [lr_at(step, cfg) for step in range(cfg.steps)]
        self.lr_table = torch.tensor(self.lrs, dtype=torch.float32, device=device)
        self.counter = torch.zeros(1, dtype=torch.long, device=device)
        self.losses = torch.zeros(cfg.steps, dtype=torch.float32, device=device)
        self.initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.opt = None
        self.graphed, self.eager_why = False, ""

    def _optimizer(self) -> torch.optim.Optimizer:
        """AdamW with the CPU path's parameter groups (no weight decay on biases, norms and
        the model's exempt parameters)."""
        model, cfg = self.model, self.cfg
        exempt = model.no_weight_decay() if hasattr(model, "no_weight_decay") else set()
        groups = [{"params": [], "weight_decay": cfg.weight_decay},
                  {"params": [], "weight_decay": 0.0}]
        for name, p in model.named_parameters():
            groups[p.ndim <= 1 or name in exempt]["params"].append(p)
        if self.plain:
            return torch.optim.AdamW(groups, lr=cfg.lr)
        self.lr = torch.tensor(cfg.lr, dtype=torch.float32, device=self.device)
        opt = torch.optim.AdamW(groups, lr=self.lr, capturable=True, fused=True)
        for group in opt.param_groups:
            group["lr"] = self.lr  # one tensor all groups read
        return opt

    def step(self) -> None:
        i = self.counter
        idx = self.indices.index_select(0, i).squeeze(0)
        if not self.plain:
            self.lr.copy_(self.lr_table.index_select(0, i).squeeze(0))
        with self.autocast():
            logits = self.model(self.x.index_select(0, idx))
        loss = F.cross_entropy(logits.float(), self.y.index_select(0, idx),
                               label_smoothing=self.cfg.label_smoothing)
        loss.backward()
        self.opt.step()
        self.losses.index_copy_(0, i, loss.detach().view(1))
        self.counter.add_(1)

    def _reset(self) -> None:
        """Back to the state before any step: initial weights and BatchNorm statistics, fresh
        optimizer moments, counter and loss log at zero."""
        with torch.no_grad():
            for name, value in self.model.state_dict().items():
                value.copy_(self.initial[name])
            for state in self.opt.state.values():
                for value in state.values():
                    if torch.is_tensor(value):
                        value.zero_()
            self.counter.zero_()
            self.losses.zero_()

    def _capture(self) -> torch.cuda.CUDAGraph:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self.opt.zero_grad(set_to_none=True)
                self.step()
        torch.cuda.current_stream().wait_stream(side)
        self._reset()
        graph = torch.cuda.CUDAGraph()
        self.opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            self.step()
        return graph

    def prepare(self, graphs: bool) -> None:
        """The optimizer, and the captured step when `graphs` (or eager steps, saying why)."""
        self.model.train()
        self.opt = self._optimizer()
        self.graph = self._try_capture() if graphs else None
        self.graphed = self.graph is not None
        self.done, self.losses_read = 0, []

    def advance(self) -> None:
        """Queue the next step (a replay, or an eager step)."""
        if self.graph is not None:
            self.graph.replay()
        else:
            if self.plain:
                for group in self.opt.param_groups:
                    group["lr"] = self.lrs[self.done]
            self.opt.zero_grad(set_to_none=True)
            self.step()
        self.done += 1

    def read(self, progress) -> None:
        """Bring the losses of the steps done so far to the host (the one sync), calling
        `progress(step, loss)` for each; a non-finite loss stops the training."""
        fresh = self.losses[len(self.losses_read):self.done].tolist()
        for n, value in enumerate(fresh, start=len(self.losses_read) + 1):
            if not math.isfinite(value):
                raise TrainingDiverged(f"loss became {value} at step {n}")
            self.losses_read.append(value)
            if progress is not None:
                progress(n, value)

    def run(self, graphs: bool, progress, read_at: set[int]) -> tuple[list[float], float]:
        """Train all steps: (every step's loss, seconds)."""
        start = time.perf_counter()
        self.prepare(graphs)
        # Dropout draws from the device generator: every run starts it from the seed, so a
        # graphed run and an eager one draw the same masks.
        if self.cuda:
            torch.cuda.manual_seed(self.cfg.seed)
        last_read = time.monotonic()
        while self.done < self.cfg.steps:
            self.advance()
            if (self.done in read_at or self.done == self.cfg.steps
                    or time.monotonic() - last_read >= READ_SECONDS):
                self.read(progress)
                last_read = time.monotonic()
        return self.losses_read, time.perf_counter() - start

    def _try_capture(self):
        """The captured step, or None (eager steps) with one line saying why."""
        if not self.cuda:
            self.eager_why = "CUDA graphs need a CUDA device"
            _notice(self.eager_why)
            return None
        try:
            return self._capture()
        except Exception as exc:  # capture fails in many backend-specific ways
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            torch.cuda.synchronize()
            self.model.zero_grad(set_to_none=True)
            self._reset()
            self.plain = True  # the plainest steps: the failure may lie in the optimizer
            self.opt = self._optimizer()
            self.eager_why = f"CUDA graph capture failed ({reason})"
            _notice(self.eager_why)
            return None


def _batch_indices(n: int, cfg: ProxyConfig, generator: torch.Generator,
                   device: torch.device) -> torch.Tensor:
    """[steps, batch] indices drawn on the device: epochs of a seeded permutation, each batch
    without repeats (as the CPU path draws them, from the device's generator)."""
    rows, order, cursor = [], torch.randperm(n, generator=generator, device=device), 0
    for _ in range(cfg.steps):
        if cursor + cfg.batch_size > n:
            order, cursor = torch.randperm(n, generator=generator, device=device), 0
        rows.append(order[cursor: cursor + cfg.batch_size])
        cursor += cfg.batch_size
    return torch.stack(rows)


_NOTICED: set[str] = set()


def _notice(reason: str) -> None:
    """One line per reason and process: the training goes on eagerly."""
    if reason not in _NOTICED:
        _NOTICED.add(reason)
        print(f"mfsearch: {reason}; training with eager steps", file=sys.stderr, flush=True)
