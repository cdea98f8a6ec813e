"""The `mfsearch budget` smoke path: files, band, resume, interruption, NaN trials."""

import csv
import json
import math
import pathlib
import re

import optuna
import pandas as pd
import pytest
import torch

from mfsearch.cli import main
from mfsearch.nas import run as search_run
from mfsearch import data as datasets
from mfsearch.families.mobile_former.cost import analyze
from mfsearch.latency.measure import machine
from mfsearch.proxy import device as device_mod
from mfsearch.proxy import train as proxy_train
from mfsearch.fidelity.record import load_record
from mfsearch.proxy.train import ProxyConfig
from mfsearch.fidelity import measure as fidelity
from mfsearch.nas import storage as storage_mod
from mfsearch.nas import trial as trial_mod
from mfsearch.errors import UserError
from mfsearch.nas.settings import SearchSettings
from mfsearch.nas.budget import parse_budget
from mfsearch.space import load_space
from mfsearch.nas.band import Band
from mfsearch.families import load_spec

# Flat and unconfirmed: these tests are about the loop and its outputs (test_confirm.py
# covers pruning and the confirmation stage).
FLAT = ["--pruner", "none", "--finalists", "0"]
SMOKE = ["budget", "150M", "--trials", "2", "--proxy-steps", "5", *FLAT]


def rows(out):
    with (out / "trials.csv").open() as fh:
        return list(csv.DictReader(fh))


def storage(out):
    return optuna.load_study(study_name="mfsearch", storage=f"sqlite:///{out / 'study.db'}")


def test_smoke_run_writes_everything_inside_the_band(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*SMOKE, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} >= {"trials.csv", "best.yaml", "report.md",
                                               "pareto.png", "study.db"}
    trained = [r for r in rows(out) if r["state"] == "trained"]
    assert len(trained) == 2
    for r in trained:
        assert 135_000_000 <= int(r["madds"]) <= 150_000_000
        assert 0.0 <= float(r["proxy_top1"]) <= 1.0
        assert float(r["proxy_score"]) == -float(r["train_loss"]) < -1  # default: --proxy-score loss
    for r in rows(out):
        if r["state"] == "infeasible" and r["madds"]:
            assert not 135_000_000 <= int(r["madds"]) <= 150_000_000
            assert "outside" in r["reason"]
    best = load_spec(out / "best.yaml")
    assert 135e6 <= analyze(best).madds() <= 150e6
    assert main(["cost", str(out / "best.yaml"), "--format", "json"]) == 0
    report = (out / "report.md").read_text()
    assert "## Proxy fidelity" in report and "## Leaderboard" in report
    # The recorded fidelity is for 60 steps, not the smoke path's 5.
    assert "Not measured for this search's settings: steps 5 (measured: 60); warmup 1 " \
           "(measured: 6). Run `mfsearch fidelity`" in report
    assert "score: minus the mean training loss over the run (higher is better)" in report
    assert re.search(r"\| +rank \| +trial \| +proxy score \| +steps \| +proxy top-1 \|", report)
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_rerun_resumes_and_extends(tmp_path):
    out = tmp_path / "run"
    assert main([*SMOKE, "--out", str(out)]) == 0
    first = {r["trial"] for r in rows(out) if r["state"] == "trained"}
    assert main(["budget", "150M", "--trials", "3", "--proxy-steps", "5", *FLAT,
                 "--out", str(out)]) == 0
    trained = {r["trial"] for r in rows(out) if r["state"] == "trained"}
    assert len(trained) == 3 and first < trained


def test_rerun_with_another_score_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["budget", "150M", "--trials", "1", "--proxy-steps", "2", "--proxy-res", "16", *FLAT]
    assert main([*common, "--out", str(out)]) == 0
    capsys.readouterr()
    assert main([*common, "--trials", "2", "--proxy-score", "top1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == ("mfsearch: error: study 'mfsearch' ranks candidates by --proxy-score loss, "
                   "not top1; use --proxy-score loss, or another --out or --study-name\n")
    assert sum(r["state"] == "trained" for r in rows(out)) == 1


def test_nan_loss_fails_the_trial_and_the_study_goes_on(tmp_path, monkeypatch, capsys):
    real = proxy_train.train_proxy
    calls = {"n": 0}

    def flaky(spec, data, cfg, progress=None, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise proxy_train.TrainingDiverged("loss became nan at step 3")
        return real(spec, data, cfg, progress, **kwargs)

    monkeypatch.setattr(device_mod, "train_proxy", flaky)
    out = tmp_path / "run"
    assert main([*SMOKE, "--out", str(out)]) == 0
    failed = [r for r in rows(out) if r["state"] == "failed"]
    assert [r["reason"] for r in failed] == ["loss became nan at step 3"]
    assert sum(r["state"] == "trained" for r in rows(out)) == 2
    assert "failed: loss became nan at step 3" in capsys.readouterr().out


def test_ctrl_c_keeps_finished_work_and_says_how_to_resume(tmp_path, monkeypatch, capsys):
    real = trial_mod.run_trial
    trained = {"n": 0}

    def interrupt_after_one(study, settings, data, on_step=None, on_phase=None, on_ask=None):
        if trained["n"] == 1:
            raise KeyboardInterrupt
        outcome = real(study, settings, data, on_step, on_phase, on_ask)
        trained["n"] += outcome == "trained"
        return outcome

    monkeypatch.setattr(search_run, "run_trial", interrupt_after_one)
    out = tmp_path / "run"
    assert main([*SMOKE, "--out", str(out)]) == 130
    text = capsys.readouterr().out
    assert "1 trained candidate(s) kept" in text and f"--out {out}" in text
    assert sum(r["state"] == "trained" for r in rows(out)) == 1
    assert (out / "best.yaml").exists() and (out / "report.md").exists()


def test_multi_objective_front(tmp_path):
    out = tmp_path / "run"
    assert main([*SMOKE, "--objectives", "acc,madds", "--sampler", "nsga2", "--out", str(out)]) == 0
    study = storage(out)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert 1 <= len(study.best_trials) <= 2


@pytest.mark.parametrize("argv,message", [
    (["budget", "abc"], "budget 'abc': expected a MAdds count"),
    (["budget", "-5M"], "budget '-5M': must be a positive MAdds count"),
    (["budget", "0"], "budget '0': must be a positive MAdds count"),
    (["budget", "5M"], "outside what the space mobile_former.yaml can reach: 41.7M to 762.0M"),
    (["budget", "150M", "--data", "/no/such/folder"], "--data /no/such/folder: no such folder"),
    (["budget", "150M", "--objectives", "madds"], "--objectives 'madds': expected acc"),
    (["budget", "150M", "--trials", "0"], "expected a positive integer, got 0"),
    (["budget", "150M", "--tolerance", "2"], "expected a number in [0, 1), got 2.0"),
])
def test_bad_budget_input(tmp_path, capsys, argv, message):
    code = main([*argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_unwritable_out(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["budget", "150M", "--out", str(blocker / "sub")]) == 2
    assert "cannot write there" in capsys.readouterr().err


def test_fidelity_writes_rank_statistics_without_touching_the_record(tmp_path, capsys):
    before = load_record()
    report = tmp_path / "fidelity.md"
    assert main(["fidelity", "--archs", "3", "--factor", "2", "--repeats", "2",
                 "--proxy-steps", "2", "--proxy-res", "16", "--seed", "3",
                 "--report", str(report)]) == 0
    text = report.read_text()
    assert "3 architectures sampled at random from the 135-150M paper band" in text
    assert ("(2 steps, batch 64, 16px, lr 0.003, scored by minus the mean training loss over "
            "the run) and with a 2x longer run, with seeds 3-4." in text)
    assert "`proxy_top1`: the same proxy runs (seed 3) ranked by its held-out top-1" in text
    assert "`proxy` is seed 3's proxy alone" in text
    assert "re-estimating BatchNorm statistics on 1024 training images" in text
    assert f"{torch.get_num_threads()} CPU threads; trained on {machine()['cpu']} (12))" in text
    for ranker in ("| proxy ", "| proxy_mean ", "| proxy_top1 ", "| params ", "| madds "):
        assert ranker in text
    assert "## Seed agreement" in text and "| 2x " in text
    # Three architectures are too few to resample: the interval says so instead of a number.
    assert "| 95% interval " in text and "| n/a " in text
    assert "The proxy's tau less each baseline's, on the same resamples: params " in text
    assert "## Each proxy seed against the reference" in text
    assert "Each seed's proxy alone ranks at Kendall tau seed 3 " in text and ", seed 4 " in text
    assert "## Against the other seeds' reference" in text
    assert "is the yardstick for one short run: 2x seed 3 " in text
    assert "; proxy seed 3 " in text
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()
            if line.startswith("| arch-")]
    header = [cell.strip() for cell in text.split("## Per architecture")[1].splitlines()[2]
              .split("|")[1:-1]]
    assert [row[0] for row in rows] == ["arch-1", "arch-2", "arch-3"]
    for row in rows:
        cell = dict(zip(header, row))
        assert float(cell["proxy"]) == float(cell["proxy_seed3"])
        assert float(cell["proxy"]) < -1 and 0 <= float(cell["proxy_top1"]) <= 1
        assert abs(float(cell["long"]) - (float(cell["long_seed3"]) + float(cell["long_seed4"]))
                   / 2) < 1e-6
    out = capsys.readouterr().out
    assert "proxy: Kendall tau" in out and "long: seeds agree at Kendall tau" in out
    assert "long: one run against the other seeds' longer runs, Kendall tau" in out
    assert load_record() == before  # the shipped record is never written
    written = load_record(tmp_path / "fidelity.json")  # the record goes beside the report
    assert written["architectures"] == 3 and set(written["stats"]) >= {"proxy", "params"}
    lines = (tmp_path / "fidelity.trainings.jsonl").read_text().splitlines()
    assert len(lines) == 12
    # Every training keeps its per-step losses, so a rung's running score can be read off it,
    # and names the CPU it ran on (the same training rounds differently on another model).
    cpu = machine()["cpu"]
    assert written["cpus"] == {cpu: 12} and f"trained on {cpu} (12)" in text
    for entry in map(json.loads, lines):
        assert entry["cpu"] == cpu
        assert len(entry["outcome"]["losses"]) == entry["steps"]
        assert -sum(entry["outcome"]["losses"]) / entry["steps"] == entry["outcome"]["loss"]
    # The ceiling the reference's own seeds allow, and each ranker's share of it.
    r1, rel = written["seed_agreement_r"], written["reliability"]
    assert written["archs"] == 3 and rel == pytest.approx(2 * r1 / (1 + r1))  # Spearman-Brown
    assert written["ceiling"] == pytest.approx(2 / math.pi * math.asin(math.sqrt(max(0, rel))))
    # Searches replayed over the trainings: each procedure's pick quality, and the floor.
    decision = written["decision"]
    assert set(decision) == {"default", "flat", "hyperband", "flat-12", "random"}
    assert decision["hyperband"]["pruner"] == "hyperband" and decision["flat"]["pruner"] is None
    assert decision["random"]["top_quartile_rate"] == round(1 / 3, 3)  # 1 of 3 archs
    assert decision["default"]["rungs"] == [1, 2] and decision["default"]["interval"] is None
    assert all(0 <= d["top_quartile_rate"] <= 1 and d["regret"] >= 0 for d in decision.values())
    assert [t["steps"] for t in written["rung_taus"]] == [1, 2]
    assert "## Decision quality" in text and "| flat-12 " in text
    assert "Against the target (top-quartile rate >= 75% and above flat's" in text


def test_tau_interval_resamples_architectures_with_all_their_rankings():
    ranks = list(range(8))
    frame = pd.DataFrame({"long": ranks, "same": ranks, "reversed": ranks[::-1],
                          "shuffled": [0, 2, 1, 3, 5, 4, 7, 6]})
    assert fidelity.tau_interval(frame, "same") == (1.0, 1.0)  # every resample agrees
    assert fidelity.tau_interval(frame, "reversed") == (-1.0, -1.0)
    assert fidelity.tau_interval(frame, "same", minus="reversed") == (2.0, 2.0)
    tau = fidelity._kendall(frame["shuffled"], frame["long"])
    low, high = fidelity.tau_interval(frame, "shuffled")
    assert low < tau < high == 1.0 and fidelity.tau_interval(frame, "shuffled") == (low, high)
    gap_low, gap_high = fidelity.tau_interval(frame, "same", minus="shuffled")
    assert gap_low == 0.0 < 1 - tau < gap_high
    assert fidelity.tau_interval(frame.head(7), "shuffled") is None  # too few to resample


def test_seed_taus_rank_each_proxy_seed_against_the_reference():
    frame = pd.DataFrame({"proxy_seed0": [1, 2, 3, 4], "proxy_seed1": [4, 3, 2, 1],
                          "proxy_seed2": [2, 1, 3, 4], "long": [0.1, 0.2, 0.3, 0.4]})
    assert fidelity.seed_taus(frame, [0, 1, 2]) == pytest.approx([1.0, -1.0, 2 / 3])


def test_held_out_taus_rank_each_seed_against_the_other_seeds_longer_runs():
    frame = pd.DataFrame({"proxy_seed0": [1, 2, 3, 4], "proxy_seed1": [4, 3, 2, 1],
                          "long_seed0": [0.1, 0.2, 0.3, 0.4], "long_seed1": [0.4, 0.1, 0.2, 0.3]})
    # seed 0 meets long_seed1's ranking, seed 1 long_seed0's.
    assert fidelity.held_out_taus(frame, [0, 1], "proxy") == pytest.approx([0.0, -1.0])
    assert fidelity.held_out_taus(frame, [0, 1], "long") == pytest.approx([0.0, 0.0])
    frame["long_seed2"] = [0.2, 0.1, 0.4, 0.3]
    frame["proxy_seed2"] = [2, 1, 4, 3]
    # seed 2 meets the mean of seeds 0 and 1, [0.25, 0.15, 0.25, 0.35]: 4 concordant pairs,
    # 1 discordant, 1 tied in the reference, tau-b = 3 / sqrt(6 * 5).
    assert fidelity.held_out_taus(frame, [0, 1, 2], "long")[2] == pytest.approx(3 / 30 ** 0.5)


def test_fidelity_jobs_score_like_one_process_with_the_same_threads():
    """--jobs runs trainings in separate processes; each result must be what one process with
    the same thread count computes, whatever order the trainings finish in."""
    band = Band(parse_budget("150M"), 0.1, "paper", 224)
    cfg = ProxyConfig(steps=2, batch_size=16, resolution=16, bn_calibration=32, seed=5)
    data = datasets.builtin(train_size=96, val_size=48)
    threads = torch.get_num_threads()
    lines = []
    try:
        torch.set_num_threads(2)  # two jobs of one thread each
        parallel, record = fidelity.measure(load_space(None), band, data, cfg, 3, 2, 0,
                                            repeats=2, jobs=2, log=lines.append)
        torch.set_num_threads(1)
        serial, _ = fidelity.measure(load_space(None), band, data, cfg, 3, 2, 0, repeats=2,
                                     log=lambda line: None)
    finally:
        torch.set_num_threads(threads)
    assert record["jobs"] == 2 and record["threads"] == 1
    timings = ["proxy_s", "long_s"]
    pd.testing.assert_frame_equal(parallel.drop(columns=timings), serial.drop(columns=timings))
    assert list(parallel.columns[-2:]) == timings and (parallel[timings] > 0).all().all()
    assert sorted(line.split("]")[0] for line in lines) == ["[1/3", "[2/3", "[3/3"]


def _tiny_measure(count, trainings, log=None, **changes):
    band = Band(parse_budget("150M"), 0.1, "paper", 224)
    cfg = ProxyConfig(steps=2, batch_size=16, resolution=16, bn_calibration=32, **changes)
    data = datasets.builtin(train_size=96, val_size=48)
    return fidelity.measure(load_space(None), band, data, cfg, count, 2, 0,
                            log=log if log is not None else (lambda line: None),
                            trainings=trainings)


def test_fidelity_keeps_finished_trainings_and_trains_only_what_is_missing(tmp_path,
                                                                          monkeypatch):
    log = tmp_path / "trainings.jsonl"
    calls = []
    real = device_mod.train_proxy

    def interrupted_after_three(spec, data, cfg, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(spec.name)
        return real(spec, data, cfg, **kwargs)

    monkeypatch.setattr(device_mod, "train_proxy", interrupted_after_three)
    with pytest.raises(KeyboardInterrupt):
        _tiny_measure(3, log)
    assert len(log.read_text().splitlines()) == 3  # every finished training was kept
    with log.open("a") as f:
        f.write('{"key": "cut short')  # a line cut when the process was killed
    monkeypatch.setattr(device_mod, "train_proxy", real)
    lines = []
    first, record = _tiny_measure(3, log, lines.append)
    assert lines[0] == f"reusing 3 of 6 trainings from {log}" and record["reused"] == 3
    # Lines logged before they named their CPU are counted as such.
    text = log.read_text().replace(f', "cpu": "{machine()["cpu"]}"', "", 1)
    log.write_text(text)
    _, record = _tiny_measure(3, log)
    assert record["cpus"] == {machine()["cpu"]: 5, "not recorded": 1}
    # One more architecture (the band is sampled in the same order): only it is trained.
    lines.clear()
    more, record = _tiny_measure(4, log, lines.append)
    assert lines[0] == f"reusing 6 of 8 trainings from {log}" and record["reused"] == 6
    pd.testing.assert_frame_equal(more.head(3), first)
    # What was reused scores exactly as a fresh training does.
    fresh, _ = _tiny_measure(3, None)
    timings = ["proxy_s", "long_s"]
    pd.testing.assert_frame_equal(first.drop(columns=timings), fresh.drop(columns=timings))
    # Other settings are other trainings.
    lines.clear()
    _, record = _tiny_measure(3, log, lines.append, lr=1e-3)
    assert record["reused"] == 0
    assert lines[0] == (f"nothing in {log} matches these settings: training all 6, each "
                        "appended there as it finishes")


def test_training_log_ignores_docstrings_and_comments_but_not_code():
    from mfsearch.fidelity.training_log import code_only
    documented = '"""Module."""\ndef f(x):\n    """Why."""\n    # note\n    return x + 1\n'
    assert code_only(documented) == code_only("def f(x):\n    return x+1  # other\n")
    assert code_only(documented) != code_only("def f(x):\n    return x + 2\n")


def test_training_log_fingerprints_each_familys_own_code(monkeypatch, tmp_path):
    """Editing one family's model leaves the logged trainings of another valid."""
    from mfsearch.fidelity import training_log

    before = {f: training_log.code_fingerprint(f) for f in ("mobile-former", "iformer")}
    assert before["mobile-former"] != before["iformer"]
    package = pathlib.Path(training_log.__file__).parent.parent / "families" / "iformer"
    original = pathlib.Path.read_text

    def edited(path, *args, **kwargs):
        text = original(path, *args, **kwargs)
        return text + "\nEDITED = 1\n" if path == package / "model.py" else text

    monkeypatch.setattr(pathlib.Path, "read_text", edited)
    assert training_log.code_fingerprint("iformer") != before["iformer"]
    assert training_log.code_fingerprint("mobile-former") == before["mobile-former"]


def test_fidelity_names_a_diverged_training_in_one_line(tmp_path, capsys):
    report = tmp_path / "fidelity.md"
    assert main(["fidelity", "--archs", "3", "--factor", "2", "--proxy-steps", "3",
                 "--proxy-res", "16", "--proxy-lr", "1e30", "--jobs", "2",
                 "--report", str(report)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mfsearch: error: arch-") and "steps) diverged: loss became nan" in err
    assert err.endswith("(try a lower --proxy-lr)") and "\n" not in err
    assert not report.exists()


FIXED_SPACE = """family: mobile-former
fixed: {bridge_heads: 2, former_heads: 4, ffn_ratio: 2, token_mlp_ratio: 4, dyrelu_reduction: 4,
        dw_kernel: 3, groups: 1, num_classes: 1000, dropout: 0.2}
head_expand: 6
stem: 16
bneck_lite: {expand: 2, stride: 1}
down_expand: 6
down_expand2: 4
stages:
  - {stride: 2, out: 24, depth: 1, expand: 3}
  - {stride: 2, out: 40, depth: 2, expand: 3}
  - {stride: 2, out: 72, depth: 2, expand: 6}
  - {stride: 1, out: 128, depth: 2, expand: 6}
  - {stride: 2, out: 176, depth: 2, expand: 6}
tokens: 6
token_dim: 192
fc1: 1280
"""


def test_repeated_architectures_are_not_trained_again(tmp_path, monkeypatch, capsys):
    space = tmp_path / "one.yaml"
    space.write_text(FIXED_SPACE)  # a space of one architecture (209.4M)
    monkeypatch.setattr(search_run, "MAX_CONSECUTIVE_DUPLICATES", 3)
    out = tmp_path / "run"
    assert main(["budget", "210M", "--space", str(space), "--trials", "3", "--proxy-steps", "2",
                 "--proxy-res", "16", "--proxy-score", "top1", *FLAT, "--out", str(out)]) == 0
    assert "stopping: the last 3 proposals repeated architectures already trained" in \
        capsys.readouterr().out
    table = rows(out)
    assert [r["state"] for r in table] == ["trained", "duplicate", "duplicate", "duplicate"]
    for r in table[1:]:
        assert r["reason"] == "same architecture as trial 0"
        assert r["proxy_top1"] == table[0]["proxy_top1"] and r["train_seconds"] == ""
        assert r["proxy_score"] == r["proxy_top1"]  # --proxy-score top1
    assert '- trials: {"duplicate": 3, "trained": 1}' in (out / "report.md").read_text()


def test_search_reports_quote_every_ranker_of_the_record(monkeypatch):
    from mfsearch.fidelity import record as fidelity_record
    stats = {"proxy": (0.571, 0.738), "proxy_mean": (0.5, 0.6), "proxy_top1": (0.429, 0.643),
             "params": (-0.357, -0.357), "madds": (0.143, 0.119)}
    record = {"architectures": 8, "band": "135-150M paper", "date": "2026-11-21",
              "proxy": "60 steps", "factor": 4, "repeats": 4,
              "stats": {k: {"kendall": t, "spearman": r} for k, (t, r) in stats.items()},
              "replicates": {"proxy": 0.595, "long": 0.548}}
    monkeypatch.setattr(fidelity_record, "load_record", lambda: record)
    assert fidelity_record.fidelity_summary() == (
        "Measured on 8 architectures from a 135-150M paper band (2026-11-21): ranking by this "
        "proxy (60 steps) vs a 4x longer training (mean of 4 seeds): Kendall tau 0.57, Spearman "
        "rho 0.74; by the same runs' held-out top-1: tau 0.43; ranking by params: tau -0.36; by "
        "MAdds: tau 0.14. Two seeds' rankings agree at tau 0.59 for the proxy and 0.55 for the "
        "longer training. See reports/proxy_fidelity.md.")
    record["stats"]["proxy"]["kendall_interval"] = [0.1612, 0.8333]
    record.update(confidence=0.95, seed_taus=[0.515, 0.333, 0.667, 0.455])
    assert fidelity_record.fidelity_summary().startswith(
        "Measured on 8 architectures from a 135-150M paper band (2026-11-21): ranking by this "
        "proxy (60 steps) vs a 4x longer training (mean of 4 seeds): Kendall tau 0.57 (95% "
        "bootstrap interval over architectures 0.16 to 0.83), Spearman rho 0.74; each of 4 "
        "proxy seeds alone: tau 0.33 to 0.67, mean 0.49; by the same runs' held-out top-1")
    record["held_out"] = {"proxy": [0.4, 0.2, 0.3, 0.5], "long": [0.6, 0.5, 0.55, 0.58]}
    assert fidelity_record.fidelity_summary().endswith(
        "longer training. Against the other seeds' longer runs, one longer run ranks at tau "
        "0.56 (a yardstick for one short run) and one proxy run at 0.35, on average over "
        "seeds. See reports/proxy_fidelity.md.")
    record["decision"] = {
        "default": {"top_quartile_rate": 0.81, "regret": 0.0061,
                    "interval": {"top_quartile_rate": [0.62, 0.95], "regret": [0.001, 0.012]}},
        "flat": {"top_quartile_rate": 0.55, "regret": 0.0142, "interval": None},
        "random": {"top_quartile_rate": 0.25, "regret": 0.0400, "interval": None}}
    assert fidelity_record.fidelity_summary().endswith(
        " Searches replayed over these trainings: the default procedure's pick lies in the "
        "reference's top quartile of the band in 81% (62% to 95%) of them, the flat procedure's "
        "at the same compute in 55%, random choice's in 25%; mean regret 0.0061 against 0.0142 "
        "top-1. See reports/proxy_fidelity.md.")


def test_search_reports_say_when_their_settings_were_not_measured(monkeypatch):
    from dataclasses import asdict

    from mfsearch.fidelity import record as fidelity_record
    record = {"architectures": 8, "band": "135-150M paper", "date": "2026-11-21",
              "proxy": "60 steps", "factor": 4, "data": "builtin-bearings",
              "config": asdict(ProxyConfig()),
              "stats": {k: {"kendall": 0.5, "spearman": 0.6} for k in ("proxy", "params", "madds")}}
    monkeypatch.setattr(fidelity_record, "load_record", lambda: record)
    measured = fidelity_record.fidelity_summary()
    assert measured.startswith("Measured on 8 architectures")
    # The measured settings, another seed or device: the same measurement.
    assert fidelity_record.fidelity_summary(
        ProxyConfig(seed=3, device="cpu"), "builtin-bearings",
        Band(150_000_000, 0.1, "paper", 224).label()) == measured
    other = fidelity_record.fidelity_summary(
        ProxyConfig(steps=200, score="top1"), "cifar:c10",
        Band(300_000_000, 0.1, "paper", 160).label(), "iformer")
    assert other == (
        "Not measured for this search's settings: family iformer (measured: mobile-former); "
        "band 270-300M paper at 160x160 (measured: "
        "135-150M paper); data cifar:c10 (measured: builtin-bearings); steps 200 (measured: 60); "
        "score top1 (measured: loss). Run `mfsearch fidelity` with the same options to measure "
        "them; the record below is for the measured settings only. " + measured)


def test_a_study_from_before_score_kinds_resumes_only_by_top1(tmp_path):
    """Studies written before candidates had a score kind were ranked by held-out top-1."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = optuna.create_study(storage=url, study_name="mfsearch", direction="maximize")
    old.add_trial(optuna.trial.create_trial(value=0.4))
    settings = SearchSettings(space=load_space(), band=Band(
        150_000_000, 0.1, "paper", 224), trials=2, proxy=ProxyConfig())
    with pytest.raises(UserError, match="ranks candidates by --proxy-score top1, not "
                                                  "loss; use --proxy-score top1"):
        storage_mod.open_study(url, "mfsearch", settings)
    top1 = SearchSettings(**{**settings.__dict__, "proxy": ProxyConfig(score="top1")})
    assert storage_mod.open_study(url, "mfsearch", top1).user_attrs == {"proxy_score": "top1"}
