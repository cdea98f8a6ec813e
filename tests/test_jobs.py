"""One front door: the command line and the Python API build the same job from the same inputs,
with the defaults of `mfsearch.defaults`, and a job leaves the caller's process as it was."""

import dataclasses
import subprocess
import sys

import pytest

from mfsearch import defaults
from mfsearch.cli.analysis import check_inputs, cost_inputs
from mfsearch.cli.latency import latency_inputs
from mfsearch.cli.main import build_parser
from mfsearch.cli.search import fidelity_inputs, search_inputs
from mfsearch.jobs import plan_check, plan_cost, plan_fidelity, plan_latency, plan_search


def _cli(argv):
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args


def _same_search(a, b):
    """Equal jobs, the command that made them aside (a command line, a call)."""
    assert dataclasses.replace(a, command="") == dataclasses.replace(b, command="")
    ta, tb = a.settings.latency, b.settings.latency
    assert (ta is None) == (tb is None)
    if ta is not None:
        assert (ta.path, ta.settings) == (tb.path, tb.settings)
        assert a.settings.band.latency.path == b.settings.band.latency.path


@pytest.mark.parametrize("options, inputs", [
    ([], {}),
    (["--jobs", "2"], {"jobs": 2}),
    (["--storage", "sqlite:///{tmp}/s.db"], {"storage": "sqlite:///{tmp}/s.db"}),
    (["--jobs", "3", "--storage", "sqlite:///{tmp}/s.db", "--study-name", "mine"],
     {"jobs": 3, "storage": "sqlite:///{tmp}/s.db", "study_name": "mine"}),
    (["--trials", "5", "--eta", "3", "--proxy-steps", "20", "--proxy-lr", "0.001",
      "--objectives", "acc,madds", "--tolerance", "0.2", "--seed", "7"],
     {"trials": 5, "eta": 3, "proxy": {"steps": 20, "lr": 0.001}, "objectives": "acc,madds",
      "tolerance": 0.2, "seed": 7}),
])
@pytest.mark.parametrize("budget", ["150M", "150000000", "12ms"])
def test_budget_on_the_command_line_is_the_search_call(tmp_path, budget, options, inputs):
    fill = lambda v: v.replace("{tmp}", str(tmp_path)) if isinstance(v, str) else v  # noqa: E731
    table = str(tmp_path / "lut.json")
    extra = ["--latency-table", table] if budget.endswith("ms") else []
    argv = ["budget", budget, "--out", str(tmp_path / "run"), *extra, *map(fill, options)]
    cli = plan_search(budget, **search_inputs(_cli(argv)))
    api = plan_search(budget, out=tmp_path / "run", **{k: fill(v) for k, v in inputs.items()},
                      **({"latency_table_file": table} if extra else {}))
    _same_search(cli, api)
    assert cli.settings.band.given == budget
    assert cli.command.startswith(f"mfsearch budget {budget}")


def test_the_defaults_come_from_one_module(tmp_path):
    job = plan_search(out=tmp_path)
    s = job.settings
    assert (s.trials, s.eta, s.finalists, s.confirm_seeds, s.pruner, s.sampler, s.seed) == (
        defaults.TRIALS, defaults.ETA, defaults.FINALISTS, defaults.CONFIRM_SEEDS,
        defaults.PRUNER, defaults.SAMPLER, defaults.SEED)
    assert (s.band.budget, s.band.tolerance, s.band.resolution) == (
        150_000_000, defaults.TOLERANCE, defaults.RESOLUTION)
    # The held-out share is left to the loader (defaults.VAL_FRACTION), which refuses one given
    # for a folder with its own split; every proxy image a seed can draw is loaded.
    assert job.data.val_fraction is None
    assert job.data.max_images == (defaults.CONFIRM_SEEDS + 1) * 60 * 64
    assert job.data.max_held_out == defaults.HELD_OUT_IMAGES
    assert plan_search(defaults.BUDGET, **search_inputs(_cli(["budget", defaults.BUDGET,
                                                              "--out", str(tmp_path)]))) \
        .settings == s
    fidelity = plan_fidelity(report=tmp_path / "f.md")
    assert (fidelity.archs, fidelity.factor, fidelity.repeats, fidelity.jobs) == (
        defaults.FIDELITY_ARCHS, defaults.FIDELITY_FACTOR, defaults.FIDELITY_REPEATS,
        defaults.FIDELITY_JOBS)


def test_a_short_proxy_warms_up_alike_on_both_paths(tmp_path):
    cli = plan_search(**search_inputs(_cli(["budget", "150M", "--proxy-steps", "5", "--out",
                                            str(tmp_path)])))
    api = plan_search("150M", proxy={"steps": 5}, out=tmp_path)
    assert cli.settings.proxy == api.settings.proxy
    assert api.settings.proxy.warmup == 1


@pytest.mark.parametrize("options, inputs", [
    ([], {}),
    (["--archs", "4", "--factor", "2", "--repeats", "2", "--jobs", "2", "--proxy-steps", "10",
      "--budget", "100M"],
     {"archs": 4, "factor": 2, "repeats": 2, "jobs": 2, "proxy": {"steps": 10},
      "budget": "100M"}),
])
def test_fidelity_on_the_command_line_is_the_fidelity_call(tmp_path, options, inputs):
    report = str(tmp_path / "fidelity.md")
    cli = plan_fidelity(**fidelity_inputs(_cli(["fidelity", "--report", report, *options])))
    api = plan_fidelity(report=report, **inputs)
    assert dataclasses.replace(cli, command="") == dataclasses.replace(api, command="")
    assert api.trainings == tmp_path / "fidelity.trainings.jsonl"


@pytest.mark.parametrize("options, inputs", [
    ([], {}),
    (["--res", "256", "--convention", "core", "--set", "tokens=1", "--backbone"],
     {"resolution": 256, "convention": "core", "overrides": ["tokens=1"], "backbone": True}),
])
def test_cost_on_the_command_line_is_the_cost_call(options, inputs):
    assert plan_cost(**cost_inputs(_cli(["cost", "294m", *options]))) == plan_cost("294m",
                                                                                    **inputs)


@pytest.mark.parametrize("options, inputs", [
    ([], {}),
    (["--res", "800x1333", "--backbone", "--set", "tokens=3"],
     {"resolution": "800x1333", "backbone": True, "overrides": ["tokens=3"]}),
])
def test_check_on_the_command_line_is_the_check_call(options, inputs):
    assert plan_check(**check_inputs(_cli(["check", "151m", *options]))) == plan_check(
        "151m", **inputs)


@pytest.mark.parametrize("options, inputs", [
    ([], {}),
    (["--batch", "4", "--threads", "2", "--min-time", "0.5", "--no-breakdown",
      "--memory-format", "contiguous", "--throughput-batch", "8"],
     {"batch": 4, "threads": 2, "min_time": 0.5, "breakdown": False,
      "memory_format": "contiguous", "throughput_batch": 8}),
])
def test_latency_on_the_command_line_is_the_latency_call(options, inputs):
    assert plan_latency(**latency_inputs(_cli(["latency", "26m", *options]))) == plan_latency(
        "26m", **inputs)


def test_report_json_records_the_budget_as_given(tmp_path):
    import json

    import mfsearch

    mfsearch.search("0.15G", trials=1, proxy={"steps": 2}, finalists=0, out=tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["budget"] == "0.15G"


def test_a_search_leaves_the_notebooks_matplotlib_backend_alone(tmp_path):
    code = ("import matplotlib; matplotlib.use('svg'); import mfsearch; "
            f"mfsearch.search('150M', trials=1, proxy={{'steps': 2}}, finalists=0, "
            f"out={str(tmp_path)!r}); print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()
    assert out[-1] == "svg"
    assert (tmp_path / "pareto.png").stat().st_size > 0
