"""ONNX export (torch's `torch.export`-based exporter) and ONNX Runtime sessions.

Every node of an exported graph is renamed `<pillar>/<module>/<node>`, the pillar being that of
the deepest tagged module the node came from (its `pkg.torch.onnx.name_scopes` metadata), and so
is every value it computes: the runtime's profiler reports per-node times by name, and the nodes
its layout pass writes are named after the value they compute, so both sum per pillar.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import statistics
import tempfile
from pathlib import Path

import torch

from ..errors import UserError
from .engines import Engine, Session

OPSET = 18
SCOPES = "pkg.torch.onnx.name_scopes"
OTHER = "other"
KERNEL = "_kernel_time"  # the profiler's suffix to a node's name
FUSED = "fused "  # ONNX Runtime's prefix for a node it fused into the one before


def node_pillar(scopes: list[str], pillars: dict[str, str]) -> str:
    """The pillar of the deepest module in `scopes` that `pillars` names, else 'other'."""
    for module in reversed(scopes):
        if module in pillars:
            return pillars[module]
    return OTHER


def name_nodes(graph, pillars: dict[str, str]) -> None:
    """Prefix every node's name, and the names of the values it computes, with its pillar (and
    the node's with its module too); the graph's own inputs and outputs keep their names."""
    kept = {v.name for v in graph.output} | {v.name for v in graph.input}
    renamed: dict[str, str] = {}
    for node in graph.node:
        scopes: list[str] = []
        for prop in node.metadata_props:
            if prop.key == SCOPES:
                scopes = ast.literal_eval(prop.value)[1:-1]  # drop the root and the op
        pillar = node_pillar(scopes, pillars)
        node.name = f"{pillar}/{scopes[-1] if scopes else ''}/{node.name}"
        for i, value in enumerate(node.output):
            if value and value not in kept:
                renamed[value] = node.output[i] = f"{pillar}/{value}"
    for node in graph.node:
        for i, value in enumerate(node.input):
            if value in renamed:
                node.input[i] = renamed[value]
    for info in graph.value_info:
        info.name = renamed.get(info.name, info.name)


def export_onnx(model, inputs: tuple, path: Path, dynamic_batch: bool,
                pillars: dict[str, str]) -> None:
    import onnx

    dynamic = None
    if dynamic_batch:
        batch = torch.export.Dim("batch")
        dynamic = tuple({0: batch} for _ in inputs)
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter reports its steps on stdout
        program = torch.onnx.export(model, inputs, dynamo=True, opset_version=OPSET,
                                    dynamic_shapes=dynamic, verbose=False)
    proto = program.model_proto
    if dynamic_batch:
        fixed = [v.name for v in proto.graph.input
                 if not v.type.tensor_type.shape.dim[0].dim_param]
        if fixed:
            raise UserError(f"the batch axis of input {fixed[0]!r} did not stay dynamic in the "
                            "ONNX graph (the model fixes its batch somewhere)")
    name_nodes(proto.graph, pillars)
    onnx.save(proto, str(path))


class OnnxSession(Session):
    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        self.path, self.threads = path, threads
        self.session = ort.InferenceSession(str(path), self._options(),
                                            providers=["CPUExecutionProvider"])
        self.names = [i.name for i in self.session.get_inputs()]

    def _options(self, profile: str | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: ORT warns about unused initializers
        if profile:
            options.enable_profiling = True
            options.profile_file_prefix = profile
        return options

    def _feeds(self, inputs) -> dict:
        return {n: t.detach().cpu().contiguous().numpy() for n, t in zip(self.names, inputs)}

    def run(self, *inputs):
        return self.session.run(None, self._feeds(inputs))

    def outputs(self, *inputs):
        return list(self.run(*inputs))

    def pillar_times(self, inputs, runs):
        """Per-pillar kernel time from ONNX Runtime's profiler, over the graph as the runtime
        optimised it (see `optimised_pillars`). The profiler's own cost between kernels is
        large for graphs of many small nodes, so time outside kernels is left out."""
        import onnx
        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as tmp:
            options = self._options(os.path.join(tmp, "profile"))
            options.optimized_model_filepath = os.path.join(tmp, "optimised.onnx")
            session = ort.InferenceSession(str(self.path), options,
                                           providers=["CPUExecutionProvider"])
            feeds = self._feeds(inputs)
            for _ in range(runs + 3):
                session.run(None, feeds)
            events = json.loads(Path(session.end_profiling()).read_text())
            graph = onnx.load(options.optimized_model_filepath, load_external_data=False).graph
        return per_pillar(events, optimised_pillars(graph), skip=3)


def _prefix(name: str) -> str | None:
    name = name.removeprefix(FUSED)
    return name.split("/", 1)[0] if "/" in name else None


def optimised_pillars(graph) -> dict[str, str]:
    """Node name -> pillar in the graph ONNX Runtime runs. Nodes it wrote itself (layout
    reorders between its blocked and plain formats, fusions) count for the pillar of the value
    they produce, else of the value they convert."""
    found = {}
    for node in graph.node:
        names = [node.name, *node.output, *node.input]
        found[node.name] = next((p for p in map(_prefix, names) if p and p != OTHER), OTHER)
    return found


def per_pillar(events: list[dict], pillars: dict[str, str], skip: int) -> dict[str, float]:
    """Median ms per pillar over the profiled runs after the first `skip` (warm-up)."""
    runs = sorted((e for e in events if e.get("cat") == "Session"
                   and e.get("name") == "model_run"), key=lambda e: e["ts"])[skip:]
    nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith(KERNEL)]
    samples: dict[str, list[float]] = {}
    for run in runs:
        start, end = run["ts"], run["ts"] + run["dur"]
        totals: dict[str, float] = {}
        for e in nodes:
            if start <= e["ts"] <= end:
                name = e["name"].removesuffix(KERNEL)
                pillar = pillars.get(name) or _prefix(name) or OTHER
                totals[pillar] = totals.get(pillar, 0.0) + e["dur"]
        for pillar, us in totals.items():
            samples.setdefault(pillar, []).append(us / 1e3)
    return {k: statistics.median(v) for k, v in samples.items()}


class OnnxRuntimeEngine(Engine):
    """ONNX (opset 18, dynamic batch) in ONNX Runtime's CPU provider, all graph optimisations
    on; per-pillar time from its profiler."""

    name = "onnxruntime"
    package = "onnxruntime"
    modules = ("onnx", "onnxscript", "onnxruntime")
    format = "onnx"  # what `mfsearch export --format` calls its files
    suffix = ".onnx"
    dynamic_batch = True
    pillar_note = ("median over 30 profiled runs of ONNX Runtime's per-node kernel times, each "
                   "node counted for the pillar its name carries (layout reorders the runtime "
                   "adds, for the pillar of the value they convert; 'other': nodes of no "
                   "pillar). Kernel time only: the profiler's cost between kernels is left out, "
                   "so the pillars sum to less than a profiled run")

    def export(self, model, inputs, path, dynamic_batch, pillars):
        export_onnx(model, inputs, path, dynamic_batch, pillars)
        return [f"ONNX opset {OPSET}" + (", dynamic batch" if dynamic_batch else "")]

    def load(self, path, threads):
        return OnnxSession(Path(path), threads)

