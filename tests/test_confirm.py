"""Multi-fidelity search and the confirmation stage, on tiny proxies: pruned candidates are
recorded with their rung, finalists and the control are retrained with further seeds, the
verdict says when seed noise decides, and a killed confirmation resumes without retraining."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mfsearch.cli import main
from mfsearch.nas.confirm import Candidate, Confirmation, Guessing
from mfsearch.nas.rungs import rung_steps
from mfsearch.families import load_model_spec

TINY = ["--proxy-steps", "6", "--proxy-res", "16", "--proxy-batch", "16"]


def test_rungs_follow_eta_and_end_at_the_top_fidelity():
    assert rung_steps(60, 3, 20) == (20, 60)
    assert rung_steps(60, 3, 6) == (6, 18, 54, 60)
    assert rung_steps(8, 2, 1) == (1, 2, 4, 8)
    assert rung_steps(10, 3, 10) == (10,)


def test_pruned_candidates_are_recorded_and_the_control_is_confirmed(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["budget", "150M", "--trials", "8", "--eta", "2", "--finalists", "2",
                 "--confirm-seeds", "1", *TINY, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "procedure: successive halving, eta 2, rungs at 3, 6 steps" in printed
    with (out / "trials.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    pruned = [r for r in rows if r["state"] == "pruned"]
    full = [r for r in rows if r["state"] == "trained"]
    assert pruned and full and len(pruned) + len(full) == 8
    assert {r["steps"] for r in pruned} == {"3"} and {r["steps"] for r in full} == {"6"}
    report = json.loads((out / "report.json").read_text())
    assert report["rungs"] == [{"steps": 3, "candidates": 8},
                               {"steps": 6, "candidates": len(full)}]
    control = report["control"]
    assert control["name"] == "mobile-former-151m" and len(control["scores"]) == 2
    assert control["madds"] == 150_814_896  # shown although it lies outside the band
    assert [len(f["scores"]) for f in report["finalists"]] == [2, 2]
    # MobileNetV3, the baseline family, gives its variant nearest the budget, same seeds.
    baseline, = report["baselines"]
    assert baseline["name"] == "mobilenetv3-large-075" and len(baseline["scores"]) == 2
    assert set(report["finalists"][0]["versus"]) == {"mobilenetv3-large-075"}
    assert report["baseline_verdicts"][0].startswith("Against mobilenetv3-large-075 (154.6M")
    pick = max(report["finalists"], key=lambda f: f["mean"])
    assert report["pick"]["trial"] == pick["trial"]
    assert f"search-best-trial-{pick['trial']}" in (out / "best.yaml").read_text()
    text = (out / "report.md").read_text()
    assert "## Confirmation" in text and "outside the band" in text
    assert report["verdict"] in text


def candidate(name, scores, control=None):
    spec = load_model_spec("26m")
    c = Candidate(name, spec, 1, 1, 1, scores)
    if control is not None:
        c.difference = [a - b for a, b in zip(scores, control.scores)]
    return c


def test_a_confirmation_within_seed_noise_says_so():
    control = candidate("mobile-former-151m", [0.50, 0.60, 0.55])
    close = candidate("trial 3", [0.52, 0.58, 0.57], control)
    result = Confirmation([0, 1, 2], [close], control)
    low, high = close.difference_interval
    assert low < 0 < high
    assert not result.beats_control(close)
    assert result.verdict().startswith("The search found no design better than "
                                       "mobile-former-151m beyond seed noise")
    clear = candidate("trial 4", [0.60, 0.70, 0.66], control)
    result = Confirmation([0, 1, 2], [close, clear], control)
    assert result.pick is clear and result.beats_control(clear)
    assert result.verdict().startswith("trial 4 beats the control mobile-former-151m")


def test_why_1_a_verdict_contradicts_its_own_warnings():
    """A competitor that did not learn (a diverged baseline) gets "not comparable", never a
    win; a design that learned passes, though its mean loss includes the warm-up spike."""
    control = candidate("mobile-former-151m", [-1.81, -1.85, -1.75])
    pick = candidate("trial 17", [-1.64, -1.72, -1.65], control)
    baseline = candidate("mobilenetv3-large-075", [-7.1, -7.6, -7.9])
    baseline.madds = 154_600_000
    pick.versus = {baseline.name: [a - b for a, b in zip(pick.scores, baseline.scores)]}
    for c, top1, final in ((control, 0.29, 1.62), (pick, 0.308, 1.58), (baseline, 0.102, 6.39)):
        c.top1, c.final_loss = [top1] * 3, [final] * 3
    pick.final_loss[0] = None  # a record without per-step losses is judged by its top-1
    result = Confirmation([0, 1, 2], [pick], control, [baseline], Guessing(10, 4096))
    assert result.beats_control(pick)
    assert result.baseline_verdicts() == [
        "Against mobilenetv3-large-075 (154.6M MAdds): not comparable: mobilenetv3-large-075 "
        "did not learn under these settings (held-out top-1 0.102 is not above chance (0.100) "
        "beyond sampling noise; its training loss ended at 6.390, not below guessing's ln 10 "
        "= 2.303)."]
    assert result.warnings() == [
        "mobilenetv3-large-075 did not learn under these settings: held-out top-1 0.102 is "
        "not above chance (0.100) beyond sampling noise; its training loss ended at 6.390, not "
        "below guessing's ln 10 = 2.303. It is left out of every comparison."]
    # A control that did not learn leaves no verdict about the pick either.
    control.top1 = [0.1] * 3
    assert not result.beats_control(pick)
    assert result.verdict() == (
        "Against the control mobile-former-151m: not comparable: mobile-former-151m did not "
        "learn under these settings (held-out top-1 0.100 is not above chance (0.100) beyond "
        "sampling noise).")


def test_a_multi_objective_search_names_the_flat_procedure(tmp_path, capsys):
    assert main(["budget", "150M", "--objectives", "acc,madds", "--trials", "2",
                 "--finalists", "0", *TINY, "--out", str(tmp_path / "mo")]) == 0
    assert ("procedure: flat: every candidate trains 6 steps (Optuna's pruners refuse "
            "multi-objective studies)") in capsys.readouterr().out


def test_confirmation_resumes_after_sigkill_without_retraining(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "mfsearch", "budget", "150M", "--trials", "3",
               "--finalists", "2", "--confirm-seeds", "2", *TINY, "--out", str(out)]
    log = out / "confirmation.jsonl"
    worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 900  # generous: a loaded CI machine is slow, not wrong
    while time.monotonic() < deadline and worker.poll() is None:
        if log.exists() and log.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert worker.poll() is None, "the confirmation finished before it could be killed"
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()
    assert log.exists(), "no confirmation run finished within the deadline"
    kept = log.read_text().splitlines()
    assert 2 <= len(kept) < 10  # 2 finalists x 2 seeds + the control's 3 + the baseline's 3
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr
    lines = log.read_text().splitlines()
    assert lines[:len(kept)] == kept  # finished runs kept, none trained again
    assert len(lines) == 10 and len({json.loads(line)["key"] for line in lines}) == 10
    report = json.loads((out / "report.json").read_text())
    assert len(report["control"]["scores"]) == 3


def test_confirmation_in_two_processes_scores_as_one_at_a_time(tmp_path):
    """The confirmation's runs are fixed before they start, so training them two at a time
    changes nothing but the wall clock (one thread per training in both runs)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reports = []
        for jobs in ("1", "2"):
            out = tmp_path / f"jobs-{jobs}"
            assert main(["budget", "150M", "--trials", "2", "--finalists", "1",
                         "--confirm-seeds", "1", "--jobs", jobs, *TINY, "--out", str(out)]) == 0
            reports.append(json.loads((out / "report.json").read_text()))
    finally:
        torch.set_num_threads(threads)
    one, two = reports
    assert len(two["control"]["scores"]) == 2
    for key in ("control", "baselines", "finalists"):
        assert one[key] == two[key]


@pytest.mark.parametrize("argv, message", [
    (["--eta", "1"], "expected an integer of at least 2"),
    (["--control", "no-such-model"], "no-such-model"),
    (["--pruner", "asha"], "invalid choice: 'asha'"),
])
def test_bad_settings_get_one_line(argv, message, tmp_path, capsys):
    assert main(["budget", "150M", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
