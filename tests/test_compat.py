"""The private behaviour of dependencies that mfsearch.compat relies on, pinned: if a new
Optuna, argparse or fvcore changes it, these fail before a user's search does."""

import argparse
import re
import time

import optuna
import pytest
import torch

from mfsearch.compat import accept_negative_values, fvcore_default_handles, heartbeat_recorder
from mfsearch.nas.storage import own_heartbeats


def test_heartbeats_go_through_the_storage_with_the_trial_id(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with own_heartbeats():
        storage = optuna.storages.RDBStorage(url, heartbeat_interval=1, grace_period=1)
        study = optuna.create_study(storage=storage, study_name="h")
        beating, silent = study.ask(), study.ask()
        beat = heartbeat_recorder(study, beating)
        assert beat is not None
        beat()
        time.sleep(3)  # well past the 1 s grace period, even on a busy machine
        # Only a trial with a recorded heartbeat can go stale: optuna read the one we wrote.
        assert optuna.storages.fail_stale_trials(study) is None
        states = {t.number: t.state for t in study.get_trials()}
        assert states == {beating.number: optuna.trial.TrialState.FAIL,
                          silent.number: optuna.trial.TrialState.RUNNING}
    plain = optuna.create_study(storage=f"sqlite:///{tmp_path / 'p.db'}", study_name="p")
    assert heartbeat_recorder(plain, plain.ask()) is None  # heartbeats off: nothing to record


def test_negative_values_pattern_reaches_the_positional():
    parser = argparse.ArgumentParser()
    parser.add_argument("budget")
    accept_negative_values(parser, re.compile(r"^-\d+M$"))
    assert parser.parse_args(["-5M"]).budget == "-5M"


def test_fvcore_default_handles_count_a_linear():
    from fvcore.nn import FlopCountAnalysis

    handles = fvcore_default_handles(("aten::linear", "aten::addmm"))
    assert set(handles) == {"aten::linear", "aten::addmm"}
    analysis = FlopCountAnalysis(torch.nn.Linear(8, 4), torch.zeros(2, 8))
    analysis.clear_op_handles()
    analysis.set_op_handle(**handles)
    analysis.unsupported_ops_warnings(False)
    assert analysis.total() == 2 * 8 * 4


def test_executorch_thread_pool_is_sized_to_the_stated_threads():
    portable_lib = pytest.importorskip(
        "executorch.extension.pybindings.portable_lib",
        reason="executorch's wheel is not installed on this machine")
    from mfsearch.compat import executorch_threads

    executorch_threads(2)
    assert portable_lib._threadpool_get_thread_count() == 2
    executorch_threads(1)
    assert portable_lib._threadpool_get_thread_count() == 1
