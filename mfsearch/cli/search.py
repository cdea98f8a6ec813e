"""`mfsearch budget` (search under a MAdds or latency budget) and `mfsearch fidelity` (is the proxy right?)."""

from __future__ import annotations

import argparse
import json
import re
import shlex

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.progress import TimeRemainingColumn

from .. import defaults
from ..compat import accept_negative_values
from ..cost.counts import CONVENTIONS, DEFAULT_CONVENTION
from ..jobs.fidelity import plan_fidelity
from ..jobs.budget import plan_search
from ..latency.settings import MEMORY_FORMATS
from ..nas.rungs import PRUNERS
from .analysis import resolution_arg
from .common import (add_device_args, add_engine_arg, add_proxy_args, at_least_2,
                     at_least_3, device_inputs, fraction, non_negative_int, positive_int,
                     proxy_inputs)
from .render import fitted_table, make_console, print_fitted

NEGATIVE_BUDGET = re.compile(r"^-(\d+\.?\d*|\.\d+)(e[+-]?\d+)?([kmg]|us|ms|s)?$", re.I)


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", help="search space YAML (default: spaces/mobile_former.yaml)")
    p.add_argument("--tolerance", type=fraction, default=defaults.TOLERANCE,
                   help="feasible band is [(1 - tolerance) x budget, budget] (default 0.1)")
    p.add_argument("--convention", choices=list(CONVENTIONS), default=DEFAULT_CONVENTION,
                   help="how the band's MAdds are counted")
    p.add_argument("--res", type=resolution_arg, default=defaults.RESOLUTION,
                   help="resolution for MAdds")
    add_proxy_args(p)


def register(sub) -> None:
    p = sub.add_parser("budget", help="search the best architecture under a MAdds or latency "
                                      "budget")
    # Let a negative budget such as -5M reach the budget parser (and its clear message) instead
    # of being taken for an option; argparse only does this for plain negative numbers.
    accept_negative_values(p, NEGATIVE_BUDGET)
    p.add_argument("budget", help="MAdds budget (150M, 0.15G, 150e6, 150000000; 1 MAdd is one "
                   "multiply-accumulate, what papers' FLOPs tables count) or latency budget "
                   "with a time unit (12ms, 800us), predicted on this machine from its latency "
                   "lookup table")
    p.add_argument("--trials", type=positive_int, default=defaults.TRIALS,
                   help="candidates to evaluate: trained fully or stopped at a rung (at most, "
                   "under --time-limit)")
    p.add_argument("--time-limit", default=defaults.TIME_LIMIT, metavar="DURATION",
                   help="the whole run's time (10m, 90s, 1h30m; none: no limit). The first "
                   "candidate measures this machine; when the procedure asked for (--trials, "
                   "--finalists, --confirm-seeds) would not fit, the search plans the smaller "
                   "one that replayed searches rate best, and stops proposing candidates in "
                   "time for the confirmation. Not planned with parallel workers "
                   f"(default {defaults.TIME_LIMIT})")
    g = p.add_argument_group("multi-fidelity and confirmation")
    g.add_argument("--pruner", choices=PRUNERS, default=defaults.PRUNER, help="sha: successive halving "
                   "at rungs of the proxy's schedule; hyperband; none: every candidate trains "
                   "all --proxy-steps (multi-objective searches always do)")
    g.add_argument("--eta", type=at_least_2, default=defaults.ETA,
                   help="keep the top 1/eta at each rung")
    g.add_argument("--first-rung", type=positive_int, metavar="STEPS",
                   help="steps of the first rung (default: --proxy-steps / eta)")
    g.add_argument("--finalists", type=non_negative_int, default=defaults.FINALISTS,
                   help="top candidates retrained with further seeds after the search "
                   "(0: no confirmation)")
    g.add_argument("--confirm-seeds", type=positive_int, default=defaults.CONFIRM_SEEDS,
                   help="further seeds for each finalist and the control")
    g.add_argument("--jobs", type=positive_int, help="confirmation trainings run at once, each "
                   "in its own process with the CPU threads split between them (default: one "
                   "per CPU thread, at most 4; with workers (--devices, CUDA) one per worker): a "
                   "small training keeps two cores only partly busy")
    g.add_argument("--control", metavar="MODEL", help="the design to beat (default: the "
                   "family's shipped variant nearest the budget, e.g. mobile-former-151m)")
    add_device_args(p)
    p.add_argument("--objectives", default=defaults.OBJECTIVES, help="acc (default: the proxy's score, "
                   "see --proxy-score), or acc,madds or acc,latency for a Pareto front")
    p.add_argument("--sampler", choices=("tpe", "nsga2", "random"), default=defaults.SAMPLER,
                   help="Optuna sampler (default tpe)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="json: the "
                   "final summary as JSON on stdout, progress on stderr (default table)")
    p.add_argument("--out", help="output folder (default runs/<timestamp>); rerun with the same "
                   "folder to resume")
    p.add_argument("--storage", help="Optuna storage URL shared by several workers (default: "
                   "a SQLite file in --out)")
    p.add_argument("--study-name", help="study name in the storage")
    p.add_argument("--fidelity-record", metavar="FILE", help="the proxy fidelity measurement "
                   "the report quotes (a .json that `mfsearch fidelity` wrote beside its "
                   "report; default: the one shipped with mfsearch)")
    add_common(p)
    g = p.add_argument_group("latency (a budget in ms/us, or the latency objective)")
    g.add_argument("--latency-table", metavar="FILE", help="lookup table file (default: one per "
                   "machine and settings under ~/.cache/mfsearch)")
    g.add_argument("--threads", type=positive_int, default=defaults.LATENCY_THREADS, help="CPU threads the latency is "
                   "measured with (default 1)")
    g.add_argument("--memory-format", choices=MEMORY_FORMATS[1:], default=None,
                   help="torch's memory format latency is measured in (default: channels_last; "
                   "contiguous for the other engines)")
    add_engine_arg(g)
    p.set_defaults(func=cmd_budget)

    p = sub.add_parser("fidelity", help="rank correlation of the proxy against longer training")
    p.add_argument("--budget", default=defaults.FIDELITY_BUDGET,
                   help="the MAdds band to sample architectures from")
    p.add_argument("--archs", type=at_least_3, default=defaults.FIDELITY_ARCHS,
                   help="architectures to measure")
    p.add_argument("--factor", type=positive_int, default=defaults.FIDELITY_FACTOR,
                   help="reference is this many times longer (default "
                   f"{defaults.FIDELITY_FACTOR})")
    p.add_argument("--repeats", type=positive_int, default=defaults.FIDELITY_REPEATS, help="train every architecture "
                   "with this many seeds; the reference is the mean over seeds, and the report "
                   "adds how well seeds agree (default 1)")
    p.add_argument("--jobs", type=positive_int, default=defaults.FIDELITY_JOBS,
                   help="trainings run at once, each "
                   "in its own process with the CPU threads split between them (default 1); on "
                   "a CPU, --jobs equal to the core count finishes sooner")
    p.add_argument("--report", help="the report (default: reports/proxy_fidelity.md in a "
                   "checkout of mfsearch); its "
                   "machine-readable record (what search reports quote) goes beside it as "
                   ".json")
    p.add_argument("--trainings", metavar="FILE", help="finished trainings are appended here as "
                   "they come; a rerun (after an interruption, or with more --archs or "
                   "--repeats) trains only those not in it yet (default: beside --report, "
                   "<report>.trainings.jsonl)")
    p.add_argument("--relog-losses", action="store_true", help="retrain the logged proxy runs "
                   "that lack per-step losses (logged before losses were), so that searches can "
                   "be replayed over them for the decision-quality estimate")
    add_common(p)
    p.set_defaults(func=cmd_fidelity)


def search_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch budget`'s options as the inputs of `mfsearch.jobs.plan_search`."""
    return {"space": args.space, "trials": args.trials, "tolerance": args.tolerance,
            "convention": args.convention, "resolution": args.res,
            "objectives": args.objectives, "sampler": args.sampler, "pruner": args.pruner,
            "eta": args.eta, "first_rung": args.first_rung, "finalists": args.finalists,
            "confirm_seeds": args.confirm_seeds, "control": args.control, "jobs": args.jobs,
            "out": args.out, "storage": args.storage, "study_name": args.study_name,
            "fidelity_record": args.fidelity_record, "latency_table_file": args.latency_table,
            "threads": args.threads, "memory_format": args.memory_format,
            "engine": args.engine, "time_limit": args.time_limit, **proxy_inputs(args),
            **device_inputs(args), "command": _command_line(args)}


def cmd_budget(args: argparse.Namespace) -> int:
    from ..nas.run import SearchInterrupted

    as_json = args.format == "json"
    console = make_console(soft_wrap=True, stderr=as_json)
    job = plan_search(args.budget, **search_inputs(args))
    settings = job.settings
    band = settings.band
    if band.latency is not None:
        console.print(f"latency lookup table: {band.latency.path} ({len(band.latency.entries)} "
                      "block shapes); new shapes are measured as they come", highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
               TextColumn("{task.fields[best]}"))
    # Started by the search's first event, so an error before it prints one line and no bars.
    progress = Progress(*columns, console=make_console(stderr=True), transient=False,
                        auto_refresh=False)
    render = _ProgressRenderer(progress, settings, band, console)
    try:
        result = job.run(render, on_block=render.block)
    except SearchInterrupted as stop:
        render.stop()
        console.print(f"interrupted: {len(stop.result.trained)} trained candidate(s) kept; "
                      f"report in {stop.result.paths['report']}. Resume with the same "
                      f"command and --out {job.out}", highlight=False)
        return 130
    finally:
        render.stop()
    if as_json:
        print(json.dumps(result.summary(), indent=2))
        return 0
    _print_leaderboard(console, result)
    if result.confirmation is not None:
        _print_confirmation(console, result.confirmation)
    if result.timing:
        from ..nas.outputs import time_line

        console.print(time_line(result.timing)[2:], highlight=False)
    paths = result.paths
    console.print(f"wrote {paths['trials']}, {paths['best']}, {paths['report']}, "
                  f"{paths['json']}, {paths['plot']}", highlight=False)
    return 0


class _ProgressRenderer:
    """Shows a search's events as two progress bars (candidates, proxy steps) and messages."""

    def __init__(self, progress: Progress, settings, band, console: Console):
        """Bars go to stderr (`progress`'s console), messages to `console`."""
        self.progress, self.settings, self.band = progress, settings, band
        self.say = lambda text: console.print(text, highlight=False)
        self.task = self.step_task = self.lut_task = self.load_task = None
        self.idle = "  proxy"
        self.started = False

    def block(self, done: int, total: int, name: str) -> None:
        """The lookup table is timing a block it has not seen (n of the spec's new ones)."""
        if not self.started:
            self.say(f"latency table: timing block {done + 1}/{total} ({name})")
            return
        if self.lut_task is None:
            self.lut_task = self.progress.add_task("  latency table", total=total, best="")
        self.progress.update(self.lut_task, completed=done, total=total, best=name)
        self.progress.refresh()

    def stop(self) -> None:
        if self.started:
            self.progress.stop()
            self.started = False

    def __call__(self, event) -> None:
        p = self.progress
        if event.kind == "load":
            if self.load_task is None:
                p.start()
                self.load_task = p.add_task("loading images", total=event.info["total"],
                                            best="")
            p.update(self.load_task, completed=event.done)
        elif event.kind == "start":
            if self.load_task is not None:
                p.stop()
                p.remove_task(self.load_task)
            p.start()
            self.started = True
            lo, hi = event.info["reachable"]
            if event.info["requeued"]:
                self.say(f"resuming: {event.info['requeued']} interrupted trial(s) "
                         "queued again")
            self.say(f"budget {self.band.describe()}, band [{self.band.fmt(self.band.low)}"
                     f", {self.band.fmt(self.band.budget)}]; space reaches "
                     f"{self.band.fmt(lo)}-{self.band.fmt(hi)}; output "
                     f"{event.info['out']}")
            self.say(f"data: {event.info['data']}")
            if event.info.get("workers"):
                self.say(f"trainings: {event.info['workers']}")
            flat = event.info.get("flat_because")
            self.say(f"procedure: {event.info['procedure']}"
                     + (f" ({flat})" if flat else ""))
            if event.info.get("time_limit"):
                self.say(f"time limit: {event.info['time_limit']}")
            if event.done:
                self.say(f"resuming: {event.done} candidate(s) already in the study")
            self.task = p.add_task("candidates", total=event.info["trials"], completed=event.done,
                                   best=_best_text(event.info["best"]))
            # Worker processes report whole trials, not steps: the second bar then only names
            # what runs (and follows the confirmation).
            self.idle = "  trainings run in worker processes" if event.info.get("workers") \
                else "  proxy"
            self.step_task = p.add_task(self.idle, best="", total=None if event.info.get(
                "workers") else self.settings.proxy.steps)
        elif event.kind == "trial":
            p.reset(self.step_task, total=self.settings.proxy.steps, description="  proxy")
        elif event.kind == "step":
            p.update(self.step_task, completed=event.step, best=f"loss {event.loss:.3f}")
        elif event.kind == "phase":
            p.update(self.step_task, description=f"  {event.message}")
        elif event.kind == "outcome":
            if event.outcome == "failed":
                self.say(f"trial {event.trial} failed: {event.info['reason']}")
            elif event.outcome == "pruned":
                self.say(f"trial {event.trial} stopped at its rung after "
                         f"{event.info['steps']} steps")
            p.update(self.step_task, description=self.idle)
            p.update(self.task, completed=event.done, best=_best_text(event.info["best"]))
        elif event.kind == "plan":
            self.say(f"time limit: {event.message}")
        elif event.kind == "stop":
            self.say(f"stopping: {event.message}")
        elif event.kind == "confirm":
            p.update(self.step_task, description=f"  {event.message}", completed=0)
        p.refresh()


def _best_text(best) -> str:
    from ..nas.trials import proxy_score

    if best is None:
        return ""
    latency = best.user_attrs.get("latency_ms")
    return f"best #{best.number}: score {proxy_score(best):.3f} at " \
           f"{best.user_attrs['madds'] / 1e6:.1f}M" + (f", {latency:.2f} ms" if latency else "")


# Leaderboard columns a narrow terminal drops first (lowest first); the rest always show.
_DROP_ORDER = ("train s", "params (M)", "rung score", "proxy top-1")


def _print_leaderboard(console: Console, result) -> None:
    board = result.leaderboard()
    fixed = {"rank", "trial", "state", "proxy score", "latency (ms)", "MAdds (M)"}
    columns = [(str(c).replace(" ", "\n", 1), None if c in fixed else
                (_DROP_ORDER.index(c) if c in _DROP_ORDER else len(_DROP_ORDER) + i))
               for i, c in enumerate(board.columns)]
    rows = [[str(v) for v in row] for row in board.itertuples(index=False)]
    table, dropped = fitted_table(console, "leaderboard (ranked by the proxy's score, pruned "
                                  "candidates after; top-1 is on the search's data)", columns,
                                  rows, left=0)
    print_fitted(console, table, dropped, "; trials.csv has every column")


def _print_confirmation(console: Console, result) -> None:
    fmt = lambda iv: "n/a" if iv is None else f"[{iv[0]:+.3f}, {iv[1]:+.3f}]"  # noqa: E731
    rows = []
    for c in result.candidates():
        role = result.role(c)
        diff = (f"{sum(c.difference) / len(c.difference):+.4f}", fmt(c.difference_interval)) \
            if c.difference else ("-", "-")
        rows.append([c.name, role, f"{c.madds / 1e6:.1f}", f"{c.mean:.4f}", fmt(c.interval),
                     *diff])
    table, dropped = fitted_table(
        console, f"confirmation (seeds {', '.join(map(str, result.seeds))}, 95% intervals)",
        [("candidate", None), ("", None), ("MAdds (M)", 2), ("mean", None), ("interval", 1),
         ("minus\ncontrol", None), ("its\ninterval", None)], rows, left=0)
    print_fitted(console, table, dropped, "; report.md has every column")
    console.print(result.verdict(), highlight=False)
    for line in result.baseline_verdicts():
        console.print(line, highlight=False)
    for line in result.warnings():
        console.print(f"warning: {line}", highlight=False)


def _command_line(args: argparse.Namespace) -> str:
    return shlex.join(["mfsearch", *args.argv])


def fidelity_inputs(args: argparse.Namespace) -> dict:
    """`mfsearch fidelity`'s options as the inputs of `mfsearch.jobs.plan_fidelity`."""
    given = proxy_inputs(args)
    return {"budget": args.budget, "archs": args.archs, "factor": args.factor,
            "repeats": args.repeats, "jobs": args.jobs, "space": args.space,
            "tolerance": args.tolerance, "convention": args.convention,
            "resolution": args.res, "report": args.report, "trainings": args.trainings,
            "relog": args.relog_losses, **given, "command": _command_line(args)}


def cmd_fidelity(args: argparse.Namespace) -> int:
    from ..fidelity.measure import MIN_FOR_INTERVAL
    from ..fidelity.record import record_path
    from ..fidelity.report import interval_text

    job = plan_fidelity(**fidelity_inputs(args))
    record = job.run()
    for name, s in record["stats"].items():
        print(f"{name:>10}: Kendall tau {s['kendall']:+.3f} "
              f"({interval_text(s['kendall_interval'])}), "
              f"Spearman rho {s['spearman']:+.3f}")
    if record["architectures"] < MIN_FOR_INTERVAL:
        print(f"intervals n/a: {record['architectures']} architectures are too few to resample "
              f"(an interval needs at least {MIN_FOR_INTERVAL})")
    for name, tau in record.get("replicates", {}).items():
        print(f"{name:>10}: seeds agree at Kendall tau {tau:+.3f}")
    for name, taus in record.get("held_out", {}).items():
        print(f"{name:>10}: one run against the other seeds' longer runs, Kendall tau "
              f"{sum(taus) / len(taus):+.3f} on average")
    for name, d in record.get("decision", {}).items():
        print(f"{name:>10}: pick in the reference's top quartile in "
              f"{d['top_quartile_rate']:.0%} of replayed searches, mean regret "
              f"{d['regret']:.4f} top-1")
    if "decision_missing" in record:
        print(f"decision quality not estimated: {record['decision_missing']} proxy run(s) lack "
              "per-step losses (rerun with --relog-losses)")
    print(f"wrote {job.report} and {record_path(job.report)}")
    return 0
