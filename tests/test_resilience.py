"""A real search process killed (SIGKILL) or interrupted (SIGINT) mid-training, then resumed;
and the same seed giving the same search."""

import csv
import signal
import subprocess
import sys
import time

import optuna
import pytest
from optuna.trial import TrialState

from mfsearch.cli import main

# Three candidates: the signal lands while the second (or third) trains, however slow the poll.
ARGS = ["budget", "150M", "--trials", "3", "--proxy-steps", "40", "--pruner", "none",
        "--finalists", "0"]


def rows(out):
    with (out / "trials.csv").open() as fh:
        return list(csv.DictReader(fh))


def _default_sigint():
    # A test run started in the background inherits SIGINT ignored; a user's terminal does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(out):
    return subprocess.Popen([sys.executable, "-m", "mfsearch", *ARGS, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=_default_sigint)


def study(out):
    return optuna.load_study(study_name="mfsearch", storage=f"sqlite:///{out / 'study.db'}")


def wait_mid_training(proc, out, timeout=240):
    """Until one candidate is trained and the next is training (RUNNING, inside the band)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        if (out / "study.db").exists():
            try:
                trials = study(out).trials
            except Exception:  # the schema is still being written
                trials = []
            done = [t for t in trials if t.state == TrialState.COMPLETE]
            running = [t for t in trials if t.state == TrialState.RUNNING
                       and t.user_attrs.get("feasible")]
            if done and running:
                return
        time.sleep(0.5)
    pytest.fail("the search never reached its second training")


def test_sigkill_mid_trial_then_rerun(tmp_path, capsys, monkeypatch):
    monkeypatch.undo()  # the rerun trains on the same built-in task as the killed process
    out = tmp_path / "run"
    proc = start(out)
    wait_mid_training(proc, out)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    [victim] = [t.number for t in study(out).trials if t.state == TrialState.RUNNING]
    assert main([*ARGS, "--out", str(out)]) == 0
    assert "1 interrupted trial(s) queued again" in capsys.readouterr().out
    by_number = {int(r["trial"]): r for r in rows(out)}
    assert by_number[victim]["state"] == "failed"
    assert [r["state"] for r in rows(out) if r["retry_of"] == str(victim)] == ["trained"]
    assert sum(r["state"] == "trained" for r in rows(out)) == 3
    assert sorted(by_number) == list(range(len(by_number)))


def test_sigint_stops_cleanly_with_a_report_and_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.undo()  # the rerun trains on the same built-in task as the stopped process
    out = tmp_path / "run"
    proc = start(out)
    wait_mid_training(proc, out)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, output
    assert "Resume with the same command" in output and "Traceback" not in output
    kept = [r for r in rows(out) if r["state"] == "trained"]
    assert len(kept) >= 1 and (out / "report.md").exists() and (out / "best.yaml").exists()
    assert main([*ARGS, "--out", str(out)]) == 0
    assert sum(r["state"] == "trained" for r in rows(out)) == 3
    assert {r["trial"] for r in kept} <= {r["trial"] for r in rows(out) if r["state"] == "trained"}


def test_same_seed_same_search(tmp_path, capsys):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["budget", "150M", "--trials", "2", "--proxy-steps", "5", "--seed", "3",
                     "--pruner", "none", "--finalists", "0",
                     "--out", str(out)]) == 0
        runs.append([{k: v for k, v in r.items() if k != "train_seconds"} for r in rows(out)])
    assert runs[0] == runs[1]
    assert all(r["proxy_top1"] for r in runs[0] if r["state"] == "trained")
