"""Count a torch model with fvcore and attribute the counts to pillars.

This is the independent cross-check of the analytic model. Modules tag themselves with a
`pillar` and the model lists its family's `pillar_names`; a pillar's count is the fvcore count
of its tagged modules minus that of nested modules tagged with another pillar (Mobile-Former's
DyReLU generators live inside its Mobile sub-blocks, say).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..compat import fvcore_default_handles
from ..spec.geometry import Resolution, as_size

# fvcore's handles for the `core` convention: conv, linear and matmul multiply-adds only.
_CORE_OPS = ("aten::addmm", "aten::bmm", "aten::_convolution", "aten::einsum", "aten::matmul",
             "aten::mm", "aten::linear")


@dataclass
class FvcoreCount:
    pillars: dict[str, int]
    params: dict[str, int]
    total: int
    unattributed: int


def _flop_analysis(model: nn.Module, inputs: torch.Tensor, convention: str):
    with warnings.catch_warnings():
        # fvcore scripts its focal loss at import; torch >= 2.10 deprecates torch.jit.script.
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated")
        from fvcore.nn import FlopCountAnalysis
    analysis = FlopCountAnalysis(model, inputs)
    if convention == "core":
        # set_op_handle(op, None) does not remove a default handle: clear, then re-add.
        analysis.clear_op_handles()
        analysis.set_op_handle(**fvcore_default_handles(_CORE_OPS))
    elif convention != "fvcore":
        raise ValueError(f"fvcore can count the core and fvcore conventions, not {convention!r}")
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    return analysis


def pillar_roots(model: nn.Module) -> dict[str, str]:
    """Qualified names of tagged modules whose nearest tagged ancestor has another pillar."""
    tags = {name: getattr(m, "pillar") for name, m in model.named_modules()
            if getattr(m, "pillar", None)}
    roots = {}
    for name, pillar in tags.items():
        parent = name
        inherited = None
        while parent:
            parent = parent.rpartition(".")[0]
            if parent in tags:
                inherited = tags[parent]
                break
        if inherited != pillar:
            roots[name] = pillar
    return roots


def _exclusive(values: dict[str, int], roots: dict[str, str],
               pillars: tuple[str, ...]) -> dict[str, int]:
    per_pillar = dict.fromkeys(pillars, 0)
    for name, pillar in roots.items():
        nested = [r for r in roots if r.startswith(name + ".")
                  and not any(r.startswith(o + ".") for o in roots
                              if o.startswith(name + ".") and o != r)]
        per_pillar[pillar] += values.get(name, 0) - sum(values.get(r, 0) for r in nested)
    return per_pillar


def count_model(model: nn.Module, resolution: Resolution, convention: str = "core") -> FvcoreCount:
    """fvcore MAdds (batch 1, eval, grad enabled so no fused fast path) and params per pillar."""
    was_training = model.training
    model.eval()
    size = as_size(resolution)
    inputs = torch.zeros(1, 3, size.h, size.w)
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    try:
        with torch.enable_grad():
            analysis = _flop_analysis(model, inputs, convention)
            by_module = {k: int(v) for k, v in analysis.by_module().items()}
    finally:
        model.train(was_training)
    roots = pillar_roots(model)
    pillars = model.pillar_names  # every family's model lists its pillars
    madds = _exclusive(by_module, roots, pillars)
    params_by_module = {name: sum(p.numel() for p in m.parameters())
                        for name, m in model.named_modules() if name in roots}
    params = _exclusive(params_by_module, roots, pillars)
    total = by_module.get("", 0)
    return FvcoreCount(pillars=madds, params=params, total=total,
                       unattributed=total - sum(madds.values()))
