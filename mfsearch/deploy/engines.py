"""The engine interface. An engine turns a deployed torch module into a
`Session` that runs it: torch runs the module itself; the others export it to a file first
(ONNX for ONNX Runtime, a `.pte` program for ExecuTorch) and load that file in their runtime."""

from __future__ import annotations

import contextlib
import importlib.metadata
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import UserError

DEPLOY_HINT = "pip install 'mfsearch[deploy]'"


@contextlib.contextmanager
def quiet_exporters():
    """Exporters warn about their own dependencies' deprecations; the user can do nothing
    about those, and the export is checked numerically after."""
    with warnings.catch_warnings():
        for category in (DeprecationWarning, FutureWarning):
            warnings.simplefilter("ignore", category)
        yield


class Session:
    """A model loaded in an engine: `run(*inputs)` is the call a latency figure times (its
    outputs stay in the runtime's own type); `outputs(*inputs)` returns NumPy arrays."""

    def run(self, *inputs: torch.Tensor):
        raise NotImplementedError

    def outputs(self, *inputs: torch.Tensor) -> list[np.ndarray]:
        raise NotImplementedError

    def pillar_times(self, inputs: tuple, runs: int) -> dict[str, float] | None:
        """Median exclusive ms per pillar over `runs` calls, or None if the engine's profiler
        cannot attribute time to the model's parts."""
        return None


class Engine:
    """One runtime. `exports` says whether models go through a file (`suffix`); a runtime that
    keeps the batch dimension dynamic in that file sets `dynamic_batch`."""

    name = ""
    package: str | None = None  # the distribution whose version a figure records
    modules: tuple[str, ...] = ()  # what must import for the engine to work
    exports = True
    format = ""  # the file format it runs, as `mfsearch export --format` names it
    suffix = ""
    dynamic_batch = False
    # What the engine's profiler exposes, said next to its figures when it is not per pillar.
    profile_note = ""
    pillar_note = ""  # how its per-pillar times are measured

    def version(self) -> str:
        return importlib.metadata.version(self.package) if self.package else ""

    def label(self) -> str:
        return f"{self.name} {self.version()}".strip()

    def require(self, asked: str = "") -> Engine:
        """The engine, or a one-line error saying what to install; `asked` is the option the
        user gave that needs it (default: `--engine NAME`)."""
        for module in self.modules:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise UserError(f"{asked or '--engine ' + self.name} needs {self.package} "
                                f"({DEPLOY_HINT}): {exc}") from None
        return self

    def export(self, model: nn.Module, inputs: tuple, path: Path, dynamic_batch: bool,
               pillars: dict[str, str]) -> list[str]:
        """Write `model` (traced on `inputs`) to `path`; return the notes worth telling (ops
        left outside an accelerating delegate, say). `pillars` maps module names to the pillar
        whose time they count as."""
        raise NotImplementedError

    def load(self, path: Path, threads: int) -> Session:
        raise NotImplementedError


class TorchSession(Session):
    def __init__(self, model: nn.Module):
        self.model = model

    def run(self, *inputs):
        return self.model(*inputs)  # the harness times inside inference mode

    def outputs(self, *inputs):
        with torch.inference_mode():
            out = self.run(*inputs)
        out = out if isinstance(out, (tuple, list)) else (out,)
        return [t.detach().cpu().numpy() for t in out]


class TorchEngine(Engine):
    """Eager PyTorch: no file; the per-pillar times come from module hooks."""

    name = "torch"
    package = "torch"
    exports = False
    pillar_note = ("median exclusive time of the pillar's modules over 30 hooked forwards "
                   "(hooks add a little; 'other' is glue outside any pillar)")

    def version(self) -> str:
        return torch.__version__

    def export(self, model, inputs, path, dynamic_batch, pillars):
        raise UserError("torch runs the module itself and writes no file: export with "
                        "--format onnx or executorch")
