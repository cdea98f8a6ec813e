"""`mfsearch budget` / `mfsearch.search(...)`: one job, one set of defaults. `plan_search` turns
what a user gives (a budget as text or a number, option values) into checked settings before
any work; `SearchJob.run` searches."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import defaults
from ..cost.counts import DEFAULT_CONVENTION
from ..devices import resolve_device
from ..errors import UserError
from ..families import load_model_spec
from ..nas.band import Band, check_reachable
from ..nas.budget import parse_budget, parse_latency
from ..nas.rungs import PRUNERS
from ..nas.settings import SearchSettings, parse_objectives
from ..nas.timing import TimeLimit, parse_duration
from ..proxy.config import ProxyConfig
from ..proxy.options import DeviceOptions
from ..space import load_space
from .common import (DataSource, check_writable, data_source, default_out, proxy_settings,
                     quiet_libraries, writable_dir)


@dataclass(frozen=True)
class SearchJob:
    """A search, checked and ready: its settings, its data, where it writes and records."""

    settings: SearchSettings
    data: DataSource
    out: Path
    storage: str | None = None
    study_name: str | None = None
    command: str = ""

    def run(self, on_event: Callable | None = None,
            on_block: Callable[[int, int, str], None] | None = None):
        """Search; returns a `mfsearch.nas.run.SearchResult`. `on_event` gets every
        `SearchEvent`; `on_block(done, total, name)` each block a latency table times."""
        from ..nas.run import SearchEvent, run_search

        started = time.monotonic()  # a time limit counts the data's loading too
        quiet_libraries()
        table = self.settings.band.latency or self.settings.latency
        if table is not None and on_block is not None:
            table.progress = on_block
        emit = on_event or (lambda event: None)
        # Nothing is written before the budget, the folder and the data have passed.
        check_reachable(self.settings.space, self.settings.band)
        check_writable(self.out)
        data = self.data.load(lambda done, total: emit(
            SearchEvent("load", done=done, info={"total": total})))
        data.check_batch(self.settings.proxy.batch_size)
        return run_search(self.settings, data, writable_dir(self.out), on_event,
                          storage=self.storage, study_name=self.study_name,
                          command=self.command, started=started)


def latency_table(path: str | Path | None, resolution: int, threads: int,
                  memory_format: str | None, engine: str):
    """This machine's lookup table for the latency band or objective."""
    from ..latency.settings import LatencySettings, memory_format_for
    from ..latency.table import LatencyTable

    settings = LatencySettings(resolution=resolution, threads=threads, device="cpu",
                               memory_format=memory_format_for(engine, memory_format,
                                                               "channels_last"),
                               engine=engine).check()
    return LatencyTable.open(None if path is None else str(path), settings)


def make_band(budget: str | int | float, tolerance: float, convention: str, resolution: int,
              table: Callable[[], Any]) -> Band:
    """The band of a MAdds budget ("150M", 150_000_000) or a latency budget ("12ms");
    `table()` opens the latency table a latency budget needs."""
    text = str(budget)
    latency = None if isinstance(budget, (int, float)) else parse_latency(text)
    if latency is not None:
        return Band(latency, tolerance, convention, resolution, table(), given=text)
    if isinstance(budget, bool) or not isinstance(budget, (str, int, float)):
        raise UserError(f"budget: expected MAdds (150M) or a latency (12ms), got {budget!r}")
    return Band(parse_budget(text), tolerance, convention, resolution, given=text)


def limit(text: str | float | None, fidelity_record: str | Path | None) -> TimeLimit | None:
    """The time limit, with the replayed procedures it plans from: the quoted fidelity
    record's, or the shipped measurement's when that record holds none."""
    from ..fidelity.record import load_record

    seconds = parse_duration(text)
    if seconds is None:
        return None
    table = next((r["procedures"] for r in (load_record(fidelity_record) if fidelity_record
                                            else None, load_record())
                  if r and r.get("procedures")), None)
    return TimeLimit(seconds, str(text), table)


def plan_search(budget: str | int = defaults.BUDGET, *, space: str | Path | None = None,
                trials: int = defaults.TRIALS, tolerance: float = defaults.TOLERANCE,
                convention: str = DEFAULT_CONVENTION, resolution: int = defaults.RESOLUTION,
                objectives: str = defaults.OBJECTIVES, sampler: str = defaults.SAMPLER,
                seed: int = defaults.SEED, proxy: dict | ProxyConfig | None = None,
                device: str = defaults.DEVICE, pruner: str = defaults.PRUNER,
                eta: int = defaults.ETA, first_rung: int | None = None,
                finalists: int = defaults.FINALISTS,
                confirm_seeds: int = defaults.CONFIRM_SEEDS, control: str | None = None,
                jobs: int | None = None, devices: str | list[str] | None = None,
                per_device: int | None = None, precision: str = defaults.PRECISION,
                deterministic: bool = False, graphs: bool = True,
                data: str | Path | None = None, val_fraction: float | None = None,
                max_images: int | None = None, skip_bad_images: bool = False,
                out: str | Path | None = None, storage: str | None = None,
                study_name: str | None = None, fidelity_record: str | Path | None = None,
                latency_table_file: str | Path | None = None,
                threads: int = defaults.LATENCY_THREADS, memory_format: str | None = None,
                engine: str = defaults.ENGINE, time_limit: str | float | None = defaults.TIME_LIMIT,
                command: str | None = None) -> SearchJob:
    """Every input of `mfsearch budget`, checked before any work (see `mfsearch budget -h`):
    a bad value fails here with the message the command line prints."""
    from ..proxy.device import check_devices, on_devices

    if pruner not in PRUNERS:
        raise UserError(f"--pruner {pruner!r}: expected one of {', '.join(PRUNERS)}")
    for name, value, least in (("--trials", trials, 1), ("--eta", eta, 2),
                               ("--finalists", finalists, 0),
                               ("--confirm-seeds", confirm_seeds, 1)):
        if not isinstance(value, int) or value < least:
            raise UserError(f"{name} {value}: expected an integer of at least {least}")
    objectives_ = parse_objectives(objectives)
    cfg = proxy_settings(proxy, seed, device)
    placement = {"devices": (), "per_device": per_device,
                 "cuda": DeviceOptions(graphs, precision, deterministic).check()}
    if devices:
        placement["devices"] = check_devices(devices.split(",") if isinstance(devices, str)
                                             else devices)
        cfg = on_devices(cfg, placement["devices"])
    on_cuda = resolve_device(cfg.device).type == "cuda"  # --device cuda without one fails here
    if precision != "fp32" and not on_cuda:
        raise UserError(f"--precision {precision} applies to CUDA trainings; this search "
                        "trains on the CPU (use --device cuda)")
    table = lambda: latency_table(latency_table_file, resolution, threads,  # noqa: E731
                                  memory_format, engine)
    band = make_band(budget, tolerance, convention, resolution, table)
    settings = SearchSettings(
        space=load_space(None if space is None else str(space)), band=band, trials=trials,
        proxy=cfg, objectives=objectives_, sampler=sampler, seed=seed,
        latency=band.latency or (table() if "latency" in objectives_ else None),
        fidelity_record=fidelity_record, pruner=pruner, eta=eta, first_rung=first_rung,
        finalists=finalists, confirm_seeds=confirm_seeds, control=control, jobs=jobs,
        **placement)
    settings.workers()  # a latency search refuses --devices here, before any work
    settings.time_limit = limit(time_limit, fidelity_record)
    if control:
        load_model_spec(control)  # a bad control fails before any work
    if storage and study_name is None:
        study_name = f"budget-{budget}"
    drawn = (confirm_seeds + 1) * cfg.steps * cfg.batch_size  # every seed's draw, at most
    return SearchJob(settings, data_source(data, val_fraction, seed, cfg, drawn, max_images,
                                           skip_bad_images),
                     Path(out) if out is not None else default_out(), storage, study_name,
                     command or f"mfsearch.search({budget!r}, trials={trials})")


def search(budget: str | int = defaults.BUDGET, *, on_event: Callable | None = None,
           **inputs: Any):
    """`mfsearch budget` as a call, with the same inputs and defaults (`plan_search` lists
    them): search the space under a MAdds ("150M", or an int) or latency ("12ms") budget,
    ranking candidates by the short proxy (`proxy`: ProxyConfig fields, e.g. {"steps": 20})
    with successive halving, then confirm the finalists against the control with further
    seeds; outputs go to `out` (default runs/<timestamp>). Returns a
    `mfsearch.nas.run.SearchResult` (`.confirmation` holds the stage)."""
    return plan_search(budget, **inputs).run(on_event)


__all__ = ["SearchJob", "latency_table", "limit", "make_band", "plan_search", "search"]
