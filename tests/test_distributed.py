"""Several workers on one PostgreSQL study (the server is started by the `postgres_url` fixture)."""

import subprocess
import sys
import time

import optuna
from optuna.trial import TrialState

from mfsearch.proxy.train import ProxyConfig
from mfsearch.nas import storage as storage_mod
from mfsearch.nas import trial as trial_mod
from mfsearch.nas.band import Band
from mfsearch.nas.settings import SearchSettings
from mfsearch.space import load_space
from mfsearch.families import load_spec, spec_from_yaml

WORKER = [sys.executable, "-m", "mfsearch", "budget", "150M", "--trials", "4",
          "--proxy-steps", "4", "--eta", "2", "--finalists", "0", "--study-name", "shared"]


def test_two_workers_share_one_study(postgres_url, tmp_path):
    workers = [subprocess.Popen([*WORKER, "--storage", postgres_url, "--out",
                                 str(tmp_path / f"w{i}")], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    storage = optuna.storages.RDBStorage(postgres_url)
    try:
        trials = optuna.load_study(study_name="shared", storage=storage).get_trials()
    finally:
        storage.engine.dispose()  # no connection outlives the server
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # every number once, none lost
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    evaluated = [t for t in trials if t.user_attrs.get("feasible")
                 and t.state in (TrialState.COMPLETE, TrialState.PRUNED)
                 and "duplicate_of" not in t.user_attrs]
    assert len(evaluated) >= 4
    # Pruned candidates stopped at a rung below the top (steps 4, rungs 2 and 4).
    assert all(t.user_attrs["steps_trained"] == (4 if t.state == TrialState.COMPLETE else 2)
               for t in evaluated)
    trained = [t for t in evaluated if t.state == TrialState.COMPLETE]
    assert trained
    both = {t.user_attrs["spec"] for t in evaluated}
    assert len(both) == len(evaluated)  # the workers did not train the same candidate twice
    best = max(trained, key=lambda t: t.values[0])
    # Any worker, rerun on the finished study, writes the same best spec without training.
    for i in range(2):
        out = tmp_path / f"w{i}"
        rerun = subprocess.run([*WORKER, "--storage", postgres_url, "--out", str(out)],
                               capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert "resuming: " in rerun.stdout
        written = load_spec(out / "best.yaml").replace(name="best")
        assert written == spec_from_yaml(best.user_attrs["spec"]).replace(name="best")
    # Each worker's best.yaml opens with its own command line; the spec below it is the same.
    texts = {"".join(line for line in (tmp_path / f"w{i}" / "best.yaml").read_text()
                     .splitlines(keepends=True) if not line.startswith("#")) for i in range(2)}
    assert len(texts) == 1


def test_trial_of_a_dead_worker_is_failed_and_queued_again(tmp_path, monkeypatch):
    """A worker that stops beating: after the grace period the next worker retries its trial."""
    monkeypatch.setattr(storage_mod, "GRACE_SECONDS", 1)
    settings = SearchSettings(space=load_space(), band=Band(
        150_000_000, 0.1, "paper", 224), trials=1, proxy=ProxyConfig())
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    dead = storage_mod.open_study(url, "s", settings, shared=True)
    with storage_mod.own_heartbeats():
        trial = dead.ask()
    load_space().sample(trial)
    trial_mod.Heartbeat(dead, trial)  # beats once, then its worker "dies"
    time.sleep(2.5)
    alive = storage_mod.open_study(url, "s", settings, shared=True)
    storage_mod.fail_dead_workers(alive)
    trials = alive.get_trials()
    assert trials[trial.number].state == TrialState.FAIL
    retry = [t for t in trials if t.state == TrialState.WAITING]
    assert len(retry) == 1 and retry[0].user_attrs == {
        "retry_of": trial.number, "retry_reason": "worker stopped (no heartbeat)"}
    with storage_mod.own_heartbeats():
        next_trial = alive.ask()  # the next worker to ask gets the dead worker's candidate
    load_space().sample(next_trial)
    assert next_trial.params == trial.params
