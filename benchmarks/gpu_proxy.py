"""Proxy training on a GPU, measured in one run of a few minutes: ms per step (eager and
graphed), images per second, 60-step trainings per minute with K processes on the GPU, the
drift of non-deterministic kernels against seed noise, graphed against eager under
--deterministic, how bf16 scores rank against fp32, the default search's wall time, and
proxies per minute when one process trains several together on streams (`--sections
together --levels 1x4,1x8,4x4`: not yet measured on a GPU).

    python benchmarks/gpu_proxy.py --json reports/gpu.json [--sections steps,concurrency,...]

Each section writes its figures into the JSON as soon as it ends, so a run stopped by its time
limit keeps what it measured. reports/gpu.md records a run."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from mfsearch.data import builtin
from mfsearch.proxy.config import ProxyConfig
from mfsearch.proxy.device import train_on_device, train_together
from mfsearch.proxy.options import DeviceOptions
from mfsearch.families import load_model_spec

MODELS = ("mobile-former-26m", "mobile-former-151m", "mobile-former-294m", "iformer-t",
          "mobilenetv3-large-100")
SECTIONS = ("steps", "concurrency", "search", "determinism", "bf16", "deterministic_speed",
            "together")
PROXY_STEPS, WARMUP = ProxyConfig.steps, ProxyConfig.warmup  # the default proxy
STARTED = time.perf_counter()


def proxy(device: str, seed: int = 0) -> ProxyConfig:
    return ProxyConfig(device=device, seed=seed, steps=PROXY_STEPS, warmup=WARMUP)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(spec, data, cfg, options) -> tuple[float, list[float], bool]:
    """(wall seconds of one whole training, its losses, whether it ran from a graph)."""
    losses: list[float] = []
    info: dict = {}
    _sync(cfg.device)
    start = time.perf_counter()
    train_on_device(spec, data, cfg, options, progress=lambda n, v: losses.append(v), info=info)
    _sync(cfg.device)
    if info["eager_why"]:
        print(f"{spec.name}: eager ({info['eager_why']})", flush=True)
    return time.perf_counter() - start, losses, info["graphed"]


def ms_per_step(spec, data, device, options, short: int, long: int, batch: int = 64) -> dict:
    """The step's cost inside the real trainer: the difference of two trainings that differ
    only in their step count, so model building, capture, calibration and evaluation cancel."""
    cfgs = [ProxyConfig(steps=s, batch_size=batch, device=device, warmup=min(6, s // 10))
            for s in (short, long)]
    full = ProxyConfig(device=device, batch_size=batch, steps=PROXY_STEPS, warmup=WARMUP)
    timed(load_model_spec("mobile-former-26m"), data, cfgs[0], options)  # warm the process
    t_short, _, graphed = timed(spec, data, cfgs[0], options)
    t_long, _, _ = timed(spec, data, cfgs[1], options)
    t_60, _, _ = timed(spec, data, full, options)
    ms = 1000 * (t_long - t_short) / (long - short)
    return {"ms_per_step": round(ms, 2), "images_per_s": round(batch / ms * 1000),
            "graphed": graphed, "proxy_60_steps_s": round(t_60, 2)}


def section_steps(args, data, out: dict) -> None:
    rows = out.setdefault("steps", {})
    for name in args.models:
        spec = load_model_spec(name)
        row = rows.setdefault(name, {})
        row["eager"] = ms_per_step(spec, data, args.device, DeviceOptions(graphs=False), 10, 40)
        row["graphed"] = ms_per_step(spec, data, args.device, DeviceOptions(), 30, 150)
        print(name, row, flush=True)
        save(args, out)
    spec = load_model_spec(args.focus)
    rows[args.focus]["graphed_bf16"] = ms_per_step(
        spec, data, args.device, DeviceOptions(precision="bf16"), 30, 150)
    rows[args.focus]["graphed_batch_256"] = ms_per_step(
        spec, data, args.device, DeviceOptions(), 30, 150, batch=256)
    torch.backends.cudnn.benchmark = True
    try:
        rows[args.focus]["graphed_cudnn_benchmark"] = ms_per_step(
            spec, data, args.device, DeviceOptions(), 30, 150)
    finally:
        torch.backends.cudnn.benchmark = False
    print(args.focus, "bf16 / batch 256 / cudnn.benchmark", rows[args.focus], flush=True)


def section_determinism(args, data, out: dict) -> None:
    spec = load_model_spec(args.focus)
    cfg = proxy(args.device)
    exact = DeviceOptions(deterministic=True)
    _, a, _ = timed(spec, data, cfg, exact)
    _, b, _ = timed(spec, data, cfg, exact)
    _, eager, graphed = timed(spec, data, cfg, DeviceOptions(graphs=False, deterministic=True))
    free = [timed(spec, data, cfg, DeviceOptions())[1] for _ in range(2)]
    seeds = [timed(spec, data, proxy(args.device, s), DeviceOptions())[1]
             for s in range(4)]
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    out["determinism"] = {
        "deterministic_graphed_repeat_max_abs": max(abs(x - y) for x, y in zip(a, b)),
        "deterministic_graphed_vs_eager_max_abs": max(abs(x - y) for x, y in zip(a, eager)),
        "default_repeat_mean_loss": [mean(free[0]), mean(free[1])],
        "default_repeat_drift": abs(mean(free[0]) - mean(free[1])),
        "default_repeat_bit_identical": free[0] == free[1],
        "seed_mean_losses": [mean(s) for s in seeds],
        "seed_sd": statistics.stdev(mean(s) for s in seeds),
    }
    print(out["determinism"], flush=True)


def _concurrent_worker(cfg, name, count, seed0, barrier, results) -> None:
    torch.set_num_threads(1)
    data = builtin()
    spec = load_model_spec(name)
    options = DeviceOptions()
    device = cfg.device
    timed(spec, data, replace(cfg, seed=seed0), options)  # start-up, capture
    barrier.wait()
    start = time.time()
    for k in range(count):
        timed(spec, data, replace(cfg, seed=seed0 + 1 + k), options)
    results.put((start, time.time(), torch.cuda.max_memory_reserved() / 2**30
                 if device.startswith("cuda") else 0.0))


def _in_processes(context, k: int, limit: float, target, args_of) -> list:
    """Start k processes of `target(*args_of(i), barrier, results)`, which time their work
    after a shared barrier; their results. One that fails stops the others (they would wait
    at the barrier forever)."""
    barrier, results = context.Barrier(k), context.Queue()
    procs = [context.Process(target=target, args=(*args_of(i), barrier, results))
             for i in range(k)]
    for p in procs:
        p.start()
    got = []
    try:
        got = [results.get(timeout=limit) for _ in procs]
    finally:
        for p in procs:
            if len(got) < k and p.is_alive():
                p.terminate()
            p.join()
    return got


def section_concurrency(args, data, out: dict) -> None:
    rows = out.setdefault("concurrency", {})
    context = multiprocessing.get_context("spawn")
    for k in args.processes:
        count = max(2, args.trainings // k)
        got = _in_processes(context, k, args.search_limit, _concurrent_worker,
                            lambda i: (proxy(args.device), args.focus, count, 100 * i))
        wall = max(e for _, e, _ in got) - min(s for s, _, _ in got)
        rows[str(k)] = {"trainings": k * count, "wall_s": round(wall, 2),
                        "per_minute": round(60 * k * count / wall, 1),
                        "gib_reserved_per_process": round(max(m for _, _, m in got), 2)}
        print(f"K={k}", rows[str(k)], flush=True)
        save(args, out)


def _together_worker(cfg, name, streams, rounds, seed0, barrier, results) -> None:
    """One process: `rounds` groups of `streams` proxies trained together (interleaved)."""
    torch.set_num_threads(1)
    data = builtin()
    spec = load_model_spec(name)
    timed(spec, data, replace(cfg, seed=seed0), DeviceOptions())  # start-up
    barrier.wait()
    start, graphed = time.time(), True
    for r in range(rounds):
        tasks = [(spec, replace(cfg, seed=seed0 + 1 + r * streams + k)) for k in range(streams)]
        done = train_together(tasks, data, DeviceOptions())
        graphed &= all(not isinstance(d, Exception) for d in done)
    _sync(cfg.device)
    results.put((start, time.time(), torch.cuda.max_memory_reserved() / 2**30
                 if cfg.device.startswith("cuda") else 0.0, graphed))


def section_together(args, data, out: dict) -> None:
    """Proxies per minute with P processes, each training S proxies together from one thread
    on S streams (`train_together`): kernels of one process's streams can overlap."""
    rows = out.setdefault("together", {})
    context = multiprocessing.get_context("spawn")
    for level in args.levels:
        k, streams = (int(x) for x in level.split("x"))
        rounds = max(1, args.trainings // (k * streams))
        got = _in_processes(context, k, args.search_limit, _together_worker,
                            lambda i: (proxy(args.device), args.focus, streams, rounds,
                                       1000 * i))
        wall = max(g[1] for g in got) - min(g[0] for g in got)
        count = k * streams * rounds
        rows[level] = {"processes": k, "streams": streams, "trainings": count,
                       "wall_s": round(wall, 2), "per_minute": round(60 * count / wall, 1),
                       "gib_reserved_per_process": round(max(g[2] for g in got), 2),
                       "all_finished": all(g[3] for g in got)}
        print(level, rows[level], flush=True)
        save(args, out)


def section_deterministic_speed(args, data, out: dict) -> None:
    spec = load_model_spec(args.focus)
    rows = out.setdefault("steps", {}).setdefault(args.focus, {})
    rows["graphed"] = ms_per_step(spec, data, args.device, DeviceOptions(), 30, 150)
    rows["graphed_deterministic"] = ms_per_step(
        spec, data, args.device, DeviceOptions(deterministic=True), 30, 150)
    rows["graphed_bf16_deterministic"] = ms_per_step(
        spec, data, args.device, DeviceOptions(deterministic=True, precision="bf16"), 30, 150)
    print(args.focus, rows, flush=True)


def section_search(args, data, out: dict) -> None:
    rows = out.setdefault("search", {})
    for extra in args.search_variants:
        if time.perf_counter() - STARTED > args.budget - 60:
            out.setdefault("skipped", []).append(f"search {' '.join(extra)}")
            continue
        label = " ".join(extra) or "default"
        run = Path(args.runs) / ("search-" + "-".join(x.strip("-") for x in extra)
                                 if extra else "search-default")
        command = [sys.executable, "-m", "mfsearch", "budget", "150M", "--device", "cuda",
                   "--out", str(run), *extra]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.search_limit)
        wall = time.perf_counter() - start
        report = run / "report.json"
        summary = json.loads(report.read_text()) if report.exists() else {}
        rows[label] = {"wall_s": round(wall, 1), "rc": done.returncode,
                       "verdict": summary.get("verdict"),
                       "pick": (summary.get("pick") or {}).get("trial"),
                       "tail": done.stdout[-1500:] + done.stderr[-1500:]}
        print(label, {k: v for k, v in rows[label].items() if k != "tail"}, flush=True)
        print(rows[label]["tail"], flush=True)
        save(args, out)


def section_bf16(args, data, out: dict) -> None:
    from scipy import stats

    from mfsearch.proxy.pool import train_many
    from mfsearch.fidelity.measure import sample_band
    from mfsearch.nas.band import Band
    from mfsearch.space import load_space

    specs = sample_band(load_space(None), Band(150_000_000, 0.1, "paper", 224), args.archs, 0)
    scores: dict[str, list[float]] = {}
    for precision in ("fp32", "bf16"):
        tasks = [((i, s), spec, proxy(args.device, s))
                 for i, spec in enumerate(specs) for s in (0, 1)]
        got = dict(train_many(tasks, data, args.jobs, [args.device] * args.jobs,
                              DeviceOptions(precision=precision)))
        for s in (0, 1):
            scores[f"{precision}_seed{s}"] = [got[(i, s)]["loss"] for i in range(len(specs))]
    tau = lambda a, b: float(stats.kendalltau(scores[a], scores[b]).statistic)  # noqa: E731
    out["bf16"] = {"archs": len(specs), "scores": scores,
                   "tau_fp32_seed0_vs_fp32_seed1": tau("fp32_seed0", "fp32_seed1"),
                   "tau_bf16_seed0_vs_fp32_seed0": tau("bf16_seed0", "fp32_seed0"),
                   "tau_bf16_seed1_vs_fp32_seed1": tau("bf16_seed1", "fp32_seed1"),
                   "tau_bf16_seed0_vs_fp32_seed1": tau("bf16_seed0", "fp32_seed1"),
                   "tau_bf16_seed1_vs_fp32_seed0": tau("bf16_seed1", "fp32_seed0")}
    print({k: v for k, v in out["bf16"].items() if k != "scores"}, flush=True)


def save(args, out: dict) -> None:
    Path(args.json).write_text(json.dumps(out, indent=2))


def main() -> None:
    global PROXY_STEPS, WARMUP, STARTED
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="gpu.json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--models", default=",".join(MODELS), type=lambda t: t.split(","))
    parser.add_argument("--focus", default="mobile-former-151m", help="the model of the "
                        "determinism, bf16-speed and concurrency sections")
    parser.add_argument("--proxy-steps", type=int, default=ProxyConfig.steps, help="steps of the "
                        "proxies those sections train (a CPU dry run uses fewer)")
    parser.add_argument("--processes", default="1,4,8,16",
                        type=lambda t: [int(x) for x in t.split(",")])
    parser.add_argument("--levels", default="1x4,1x8,1x16,4x4,4x8", type=lambda t: t.split(","),
                        help="PxS for the together section: P processes of S proxies each")
    parser.add_argument("--trainings", type=int, default=16,
                        help="60-step trainings per concurrency level, split between processes")
    parser.add_argument("--archs", type=int, default=16, help="band architectures for bf16")
    parser.add_argument("--jobs", type=int, default=8, help="processes for the bf16 section")
    parser.add_argument("--runs", default="runs", help="where the searches write")
    parser.add_argument("--search-variants", default=";--per-device 16",
                        type=lambda t: [x.split() for x in t.split(";")])
    parser.add_argument("--search-limit", type=int, default=200)
    parser.add_argument("--budget", type=float, default=480, help="seconds; later sections "
                        "are skipped once this is spent")
    args = parser.parse_args()
    STARTED = time.perf_counter()
    PROXY_STEPS, WARMUP = args.proxy_steps, min(WARMUP, max(1, args.proxy_steps // 10))
    start = STARTED
    out: dict = {"device": (torch.cuda.get_device_name() if args.device.startswith("cuda")
                            else "cpu"),
                 "torch": torch.__version__, "cpus": os.cpu_count()}
    data = builtin()
    for name in args.sections.split(","):
        left = args.budget - (time.perf_counter() - start)
        if left < 20:
            out.setdefault("skipped", []).append(name)
            continue
        began = time.perf_counter()
        try:
            globals()[f"section_{name}"](args, data, out)
        except Exception as exc:  # one broken section must not lose the others' figures
            out.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
            print(f"section {name} failed: {type(exc).__name__}: {exc}", flush=True)
        out.setdefault("section_seconds", {})[name] = round(time.perf_counter() - began, 1)
        save(args, out)
    print(json.dumps({k: v for k, v in out.items() if k not in ("bf16",)}, indent=1)[:6000])


if __name__ == "__main__":
    main()
