"""ExecuTorch programs lowered to the XNNPACK delegate (the PyTorch path to phones), run by
ExecuTorch's Python runtime, which runs on x86 too.

Programs have static shapes: a `.pte` runs at the batch it was exported with. Ops the XNNPACK
partitioner does not take stay in the program as portable kernels; the export names them, with
the block they come from. The Python runtime exposes no per-delegate timing, so latency is
whole-model only.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch

from .. import compat
from .engines import Engine, Session

# Graph nodes that only move tuple items around: never a kernel, in or out of a delegate.
_BOOKKEEPING = {"getitem", "executorch_call_delegate"}


@contextlib.contextmanager
def native_stderr_silenced():
    """ExecuTorch's C++ runtime logs CPU probing on stderr when it starts; keep it out of a
    command's output (Python's own errors are raised, not printed, meanwhile)."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _module_of(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    return list(stack.values())[-1][0] if stack else ""


def outside_delegate(program) -> dict[str, list[str]]:
    """Op -> the modules of its nodes that XNNPACK did not take, in graph order."""
    found: dict[str, list[str]] = {}
    for node in program.graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        op = getattr(node.target, "__name__", str(node.target))
        if op not in _BOOKKEEPING:
            found.setdefault(op, []).append(_module_of(node) or "top level")
    return found


def outside_text(outside: dict[str, list[str]]) -> str:
    """'N op(s) outside ...: op xK (first in module), ...', most frequent first."""
    total = sum(map(len, outside.values()))
    ops = sorted(outside.items(), key=lambda kv: -len(kv[1]))
    listed = ", ".join(f"{op} x{len(mods)} (first in {mods[0]})" for op, mods in ops)
    return f"{total} op(s) outside the XNNPACK delegate, run as portable kernels: {listed}"


def export_program(model, inputs: tuple, path: Path) -> dict[str, list[str]]:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    exported = torch.export.export(model, inputs)
    edge = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()])
    outside = outside_delegate(edge.exported_program())
    path.write_bytes(edge.to_executorch().buffer)
    return outside


class ExecuTorchSession(Session):
    def __init__(self, path: Path, threads: int):
        from executorch.runtime import Runtime

        with native_stderr_silenced():
            compat.executorch_threads(threads)
            self.method = Runtime.get().load_program(str(path)).load_method("forward")

    def run(self, *inputs):
        return self.method.execute([t.detach().cpu().contiguous() for t in inputs])

    def outputs(self, *inputs):
        return [t.numpy() for t in self.run(*inputs)]


class ExecuTorchEngine(Engine):
    """ExecuTorch with the XNNPACK delegate, static shapes, whole-model time."""

    name = "executorch"
    package = "executorch"
    modules = ("executorch.exir", "executorch.runtime",
               "executorch.backends.xnnpack.partition.xnnpack_partitioner")
    format = "executorch"  # what `mfsearch export --format` calls its files
    suffix = ".pte"
    profile_note = ("ExecuTorch's Python runtime exposes no per-delegate timing: whole-model "
                    "time only")

    def require(self, asked: str = ""):
        with native_stderr_silenced():
            return super().require(asked)

    def export(self, model, inputs, path, dynamic_batch, pillars):
        outside = export_program(model, inputs, path)
        notes = ["XNNPACK delegate, static batch"]
        notes.append(outside_text(outside) if outside else "every op lowered to XNNPACK")
        return notes

    def load(self, path, threads):
        return ExecuTorchSession(Path(path), threads)
