"""Inference latency measured the way deployed mobile models are timed: eval mode, BatchNorm
folded, inference mode, a fixed thread count, a chosen memory format, warm-up, then many timed
runs (torch.utils.benchmark) reported as median and interquartile range.

FLOPs are not latency: depthwise convs with equal MACs differ 24x in speed with channel counts
off multiples of 8 (tools_and_conventions.md section 3), so every figure carries its settings.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..cost.fvcore_count import pillar_roots
from ..deploy import Engine, get_engine
from ..deploy.export import export_file
from ..models.fold import fold_batchnorm
from ..spec.geometry import as_size, size_label
from .settings import LatencySettings

if TYPE_CHECKING:
    from torch.utils import benchmark

@dataclass
class Timing:
    median_ms: float
    iqr_ms: float
    runs: int

    @classmethod
    def of(cls, m: benchmark.Measurement) -> Timing:
        return cls(median_ms=m.median * 1e3, iqr_ms=m.iqr * 1e3, runs=len(m.times))


@contextlib.contextmanager
def torch_threads(count: int):
    """Run with `count` intra-op threads, then restore the caller's (a search process measures
    latency with 1 thread between proxy trainings that use all cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def machine() -> dict:
    """What a latency depends on besides the model: recorded next to every figure."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {"cpu": cpu, "gpu": gpu, "torch": torch.__version__, "python": platform.python_version()}


def prepare(model: nn.Module, settings: LatencySettings, memory_format: str) -> nn.Module:
    """The deployed form: BN folded, eval, on the device, in the memory format."""
    model = fold_batchnorm(model).to(settings.device)
    if memory_format == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    return model


def example_input(settings: LatencySettings, batch: int, memory_format: str) -> torch.Tensor:
    size = as_size(settings.resolution)
    x = torch.randn(batch, 3, size.h, size.w, device=settings.device)
    return x.contiguous(memory_format=torch.channels_last) if memory_format == "channels_last" \
        else x


def time_call(fn, threads: int, min_time: float, warmup: int, sync: bool) -> Timing:
    """Median/IQR of `fn()` over at least `min_time` seconds after `warmup` calls."""
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        if sync:
            torch.cuda.synchronize()
        from torch.utils import benchmark  # here: importing it logs about CUDA build files

        stmt = "fn(); torch.cuda.synchronize()" if sync else "fn()"
        timer = benchmark.Timer(stmt=stmt, globals={"fn": fn, "torch": torch},
                                num_threads=threads)
        return Timing.of(timer.blocked_autorange(min_run_time=min_time))


def _run(model: nn.Module, x: torch.Tensor):
    return lambda: model(x)


def pick_memory_format(model: nn.Module, settings: LatencySettings) -> str:
    if settings.memory_format != "auto":
        return settings.memory_format
    best, fastest = "contiguous", float("inf")
    for fmt in ("contiguous", "channels_last"):
        m = prepare(model, settings, fmt)
        t = time_call(_run(m, example_input(settings, settings.batch, fmt)), settings.threads,
                      min(0.3, settings.min_time), 3, settings.device == "cuda")
        if t.median_ms < fastest:
            best, fastest = fmt, t.median_ms
    return best


@dataclass
class LatencyReport:
    model: str
    settings: dict
    memory_format: str
    machine: dict
    latency: Timing  # at settings.batch
    per_image_ms: float
    throughput: dict | None  # {"batch", "median_ms", "images_per_s"}
    pillars: dict[str, float] | None  # median exclusive ms per pillar (+ "other")
    engine: str = "torch"  # the runtime and its version
    notes: list[str] = field(default_factory=list)  # what the engine's export said

    def to_dict(self) -> dict:
        return asdict(self)


def measure(model: nn.Module, name: str, settings: LatencySettings,
            throughput_batch: int | None = 32, breakdown: bool = True,
            breakdown_runs: int = 30, exported: Path | None = None) -> LatencyReport:
    """`model`'s latency in the settings' engine; `exported`: the model's file for that
    engine, exported already (by `mfsearch.deploy.export_model`), so it is not exported again."""
    settings.check()
    engine = get_engine(settings.engine)
    with torch_threads(settings.threads):
        if engine.exports:
            return _measure_exported(engine, model, name, settings, throughput_batch,
                                     breakdown, breakdown_runs, exported)
        return _measure(engine, model, name, settings, throughput_batch, breakdown,
                        breakdown_runs)


def _measure_exported(engine: Engine, model: nn.Module, name: str, settings: LatencySettings,
                      throughput_batch: int | None, breakdown: bool,
                      breakdown_runs: int, exported: Path | None) -> LatencyReport:
    """The same figures in a runtime that runs an exported file: exported once (a dynamic
    batch traced at 2 at least), loaded with the settings' threads, timed by the same harness;
    per-pillar times from the engine's profiler where it has one."""
    x = example_input(settings, settings.batch, "contiguous")
    trace = example_input(settings, max(2, settings.batch), "contiguous") \
        if engine.dynamic_batch else x
    with tempfile.TemporaryDirectory() as tmp:
        path = exported or Path(tmp) / f"model{engine.suffix}"
        notes = [] if exported else export_file(prepare(model, settings, "contiguous"), engine,
                                                (trace,), path, engine.dynamic_batch, name)
        session = engine.load(path, settings.threads)
        timing = time_call(lambda: session.run(x), settings.threads, settings.min_time,
                           settings.warmup, False)
        throughput = None
        if throughput_batch and throughput_batch > settings.batch and engine.dynamic_batch:
            big_x = example_input(settings, throughput_batch, "contiguous")
            big = time_call(lambda: session.run(big_x), settings.threads, settings.min_time, 2,
                            False)
            throughput = {"batch": throughput_batch, "median_ms": big.median_ms,
                          "images_per_s": throughput_batch / big.median_ms * 1e3}
        pillars = session.pillar_times((x,), breakdown_runs) if breakdown else None
    if pillars is not None:
        order = list(getattr(model, "pillar_names", ())) + ["other"]
        pillars = {k: pillars[k] for k in order if k in pillars} | \
            {k: v for k, v in pillars.items() if k not in order}
    if engine.profile_note:
        notes.append(engine.profile_note)
    if throughput_batch and throughput_batch > settings.batch and not engine.dynamic_batch:
        notes.append(f"no throughput figure: an {engine.name} program has a static batch")
    return LatencyReport(model=name, settings={**asdict(settings),
                                               "resolution": size_label(settings.resolution)},
                         memory_format="contiguous", machine=machine(), latency=timing,
                         per_image_ms=timing.median_ms / settings.batch, throughput=throughput,
                         pillars=pillars, engine=engine.label(), notes=notes)


def _measure(engine: Engine, model: nn.Module, name: str, settings: LatencySettings,
             throughput_batch: int | None, breakdown: bool,
             breakdown_runs: int) -> LatencyReport:
    fmt = pick_memory_format(model, settings)
    deployed = prepare(model, settings, fmt)
    sync = settings.device == "cuda"
    timing = time_call(_run(deployed, example_input(settings, settings.batch, fmt)),
                       settings.threads, settings.min_time, settings.warmup, sync)
    throughput = None
    if throughput_batch and throughput_batch > settings.batch:
        big = time_call(_run(deployed, example_input(settings, throughput_batch, fmt)),
                        settings.threads, settings.min_time, 2, sync)
        throughput = {"batch": throughput_batch, "median_ms": big.median_ms,
                      "images_per_s": throughput_batch / big.median_ms * 1e3}
    pillars = None
    if breakdown:
        pillars = pillar_times(deployed, example_input(settings, settings.batch, fmt),
                               breakdown_runs, sync)
    return LatencyReport(model=name, settings={**asdict(settings),
                                               "resolution": size_label(settings.resolution)},
                         memory_format=fmt,
                         machine=machine(), latency=timing,
                         per_image_ms=timing.median_ms / settings.batch,
                         throughput=throughput, pillars=pillars,
                         engine=engine.label())


def pillar_times(model: nn.Module, x: torch.Tensor, runs: int, sync: bool) -> dict[str, float]:
    """Median exclusive wall time (ms) of each pillar's tagged modules over `runs` forwards.

    Forward hooks stamp entry and exit of every pillar root (a tagged module whose nearest
    tagged ancestor has another pillar); a root's time minus its nested roots' is exclusive, so
    DyReLU generators inside Mobile blocks count as DyReLU. What no pillar covers (glue in the
    top-level forward) is 'other'. Run separately from the headline timing: the hooks cost a
    few microseconds each.
    """
    roots = pillar_roots(model)
    modules = dict(model.named_modules())
    names = list(roots)
    stack: list[list] = []
    totals: dict[str, float] = {}

    def pre(name):
        def hook(module, args):
            if sync:
                torch.cuda.synchronize()
            stack.append([name, time.perf_counter(), 0.0])
        return hook

    def post(name):
        def hook(module, args, output):
            if sync:
                torch.cuda.synchronize()
            _, start, nested = stack.pop()
            elapsed = time.perf_counter() - start
            totals[roots[name]] = totals.get(roots[name], 0.0) + elapsed - nested
            if stack:  # the innermost open root is this one's tagged ancestor
                stack[-1][2] += elapsed
        return hook

    handles = []
    for name in names:
        handles.append(modules[name].register_forward_pre_hook(pre(name)))
        handles.append(modules[name].register_forward_hook(post(name)))
    samples: dict[str, list[float]] = {}
    try:
        with torch.inference_mode():
            for i in range(runs + 3):
                totals.clear()
                start = time.perf_counter()
                model(x)
                if sync:
                    torch.cuda.synchronize()
                whole = time.perf_counter() - start
                if i < 3:  # warm-up
                    continue
                totals["other"] = whole - sum(totals.values())
                for k, v in totals.items():
                    samples.setdefault(k, []).append(v * 1e3)
    finally:
        for h in handles:
            h.remove()
    order = list(getattr(model, "pillar_names", ())) + ["other"]
    return {k: statistics.median(samples[k]) for k in order if k in samples}


def pillar_frame(report: LatencyReport, cost, convention: str = "paper"):
    """Each pillar's measured time and share next to its MAdds and share (a DataFrame)."""
    import pandas as pd

    total_ms = sum(report.pillars.values())
    total_madds = cost.madds(convention)
    rows = []
    for name, ms in report.pillars.items():
        madds = cost.pillar(name).madds(convention) if name in cost.pillar_names else 0
        rows.append({"pillar": name, "ms": ms, "time_share": ms / total_ms if total_ms else 0,
                     "madds": madds, "madds_share": madds / total_madds if total_madds else 0})
    return pd.DataFrame(rows)


NOISY_IQR = 0.2  # an IQR above this share of the median: the figure is not to be trusted


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def warnings_for(report: LatencyReport, settings: LatencySettings) -> list[str]:
    """What makes a latency figure doubtful: more threads than cores, or a wide spread."""
    found = []
    cores = usable_cores()
    if settings.device == "cpu" and settings.threads > cores:
        found.append(f"--threads {settings.threads} is more than the {cores} core(s) this "
                     "process may use: threads share cores and the figure measures contention")
    t = report.latency
    if t.median_ms and t.iqr_ms > NOISY_IQR * t.median_ms:
        found.append(f"the IQR is {100 * t.iqr_ms / t.median_ms:.0f}% of the median (over "
                     f"{100 * NOISY_IQR:.0f}%): the machine is busy or throttling; rerun on a "
                     "quiet machine or with a longer --min-time")
    return found
