"""Export the deployed form of a model to an engine's file, run it there and compare it with
torch on the same input. An export that fails is retried part by part, so the one-line error
names the op and the block it failed in."""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..cost.fvcore_count import pillar_roots
from ..errors import UserError
from ..models.fold import fold_batchnorm
from ..models.parts import model_parts, part_inputs
from ..spec.geometry import as_size
from .engines import Engine, TorchSession, quiet_exporters

TOLERANCE = 1e-4  # max relative difference from torch an export may have
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OP = re.compile(r"\b(?:aten|prims|quantized_decomposed)\.[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?")


@dataclass
class ExportResult:
    path: Path
    engine: str  # name and version
    notes: list[str]
    batch: int  # the batch the comparison ran at
    max_abs: float
    max_rel: float
    seconds: float  # export time
    size_bytes: int = 0
    tolerance: float = field(default=TOLERANCE)

    @property
    def ok(self) -> bool:
        return self.max_rel <= self.tolerance

    def summary(self) -> str:
        return (f"{self.engine} vs torch at batch {self.batch}: max abs diff "
                f"{self.max_abs:.2e}, max rel diff {self.max_rel:.2e} (limit "
                f"{self.tolerance:.0e})")


def deployed_form(model: nn.Module) -> nn.Module:
    """What ships: BatchNorm folded, eval mode, on the CPU."""
    return fold_batchnorm(model.cpu()).eval()


def example_input(resolution, batch: int, seed: int = 0) -> torch.Tensor:
    size = as_size(resolution)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, size.h, size.w, generator=generator)


def compare_outputs(expected: list[np.ndarray], got: list[np.ndarray]) -> tuple[float, float]:
    """(max abs difference, that over the largest reference magnitude) across all outputs."""
    if len(expected) != len(got):
        raise UserError(f"the exported model returns {len(got)} output(s), torch "
                        f"{len(expected)}")
    worst, scale = 0.0, 0.0
    for a, b in zip(expected, got):
        if a.shape != b.shape:
            raise UserError(f"the exported model returns shape {tuple(b.shape)}, torch "
                            f"{tuple(a.shape)}")
        worst = max(worst, float(np.abs(a - b).max()))
        scale = max(scale, float(np.abs(a).max()))
    return worst, (worst / scale if scale else worst)


def export_model(model: nn.Module, engine: Engine, path: str | Path, resolution=224,
                 batch: int = 1, name: str = "model") -> ExportResult:
    """Export `model`'s deployed form for `batch` images, reload the file in the engine's
    runtime and compare with torch (at batch + 1 where the file keeps the batch dynamic).
    A dynamic batch is traced at 2 at least: traced at 1, size-1 broadcasting fixes it."""
    path = Path(path)
    deployed = deployed_form(model)
    x = example_input(resolution, max(batch, 2) if engine.dynamic_batch else batch)
    start = time.perf_counter()
    notes = export_file(deployed, engine, (x,), path, engine.dynamic_batch, name)
    seconds = time.perf_counter() - start
    check = example_input(resolution, batch + 1 if engine.dynamic_batch else batch, seed=1)
    expected = TorchSession(deployed).outputs(check)
    try:
        got = engine.load(path, threads=1).outputs(check)
    except Exception as exc:  # noqa: BLE001 - a runtime's load and run errors, as one line
        raise UserError(f"{path}: {engine.name} cannot run the exported file "
                        f"({_reason(exc)[1]})") from None
    worst, rel = compare_outputs(expected, got)
    return ExportResult(path=path, engine=engine.label(), notes=notes, batch=check.shape[0],
                        max_abs=worst, max_rel=rel, seconds=seconds,
                        size_bytes=path.stat().st_size)


def deploy(engine: Engine, module: nn.Module, inputs: tuple, folder: Path, threads: int,
           name: str = "model"):
    """`module` as `engine` runs it: itself for torch, else exported into `folder` with static
    shapes (a lookup table times each shape alone) and loaded."""
    if not engine.exports:
        return TorchSession(module)
    path = folder / f"model{engine.suffix}"
    export_file(module, engine, inputs, path, False, name)
    return engine.load(path, threads)


def export_file(deployed: nn.Module, engine: Engine, inputs: tuple, path: Path,
                dynamic_batch: bool, name: str = "model") -> list[str]:
    """`engine.export` with its pillars named, and any failure as one line naming the op and
    the block (a UserError)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with quiet_exporters():
            return engine.export(deployed, inputs, path, dynamic_batch, pillar_roots(deployed))
    except UserError:
        raise
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except Exception as exc:  # noqa: BLE001 - exporters raise many types; all become one line
        raise UserError(export_failure(deployed, inputs[0], engine, name, exc)) from None


def _reason(exc: BaseException) -> tuple[str, str]:
    """(the op an exporter error names, or '', the first line of the most specific error in
    its chain that names it)."""
    chain = [exc]
    while (chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 20:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    texts = [_ANSI.sub("", str(e)) for e in chain]
    found = [(t, _OP.search(t)) for t in texts]
    naming = [(t, m) for t, m in found if m]
    text, match = naming[-1] if naming else (texts[0], None)
    first = next((line.strip() for line in text.splitlines() if line.strip()),
                 type(exc).__name__)
    return (match.group(0) if match else ""), first[:200]


def export_failure(model: nn.Module, x: torch.Tensor, engine: Engine, name: str,
                   exc: BaseException) -> str:
    """One line: which op failed in which part (each part is exported alone to find it)."""
    op, first = _reason(exc)
    where = ""
    try:
        inputs = part_inputs(model, x)
        parts = model_parts(model)
    except Exception:  # noqa: BLE001 - the model runs in torch; if not, say what export said
        inputs, parts = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for part, module in parts:
            if part not in inputs:
                continue
            try:
                with quiet_exporters():
                    engine.export(module, inputs[part], Path(tmp) / f"part{engine.suffix}",
                                  False, {})
            except Exception as part_exc:  # noqa: BLE001
                part_op, first = _reason(part_exc)
                where, op = part, part_op or op
                break
    located = f"{op or 'an op'} in {where}" if where else (op or "the graph")
    return f"cannot export {name} to {engine.name}: {located} does not lower ({first})"
