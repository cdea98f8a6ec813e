"""The private behaviour of dependencies that mfsearch.compat relies on, pinned: if a new
Optuna, argparse or fvcore changes it, these fail before a user's search does."""

import argparse
import re

import optuna
import torch

from mfsearch.compat import accept_negative_values, fvcore_default_handles, heartbeat_recorder


def test_heartbeats_go_through_the_storage_with_the_trial_id(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    storage = optuna.storages.RDBStorage(url, heartbeat_interval=10, grace_period=20)
    study = optuna.create_study(storage=storage, study_name="h")
    trial = study.ask()
    beat = heartbeat_recorder(study, trial)
    assert beat is not None
    beat()
    assert storage._get_stale_trial_ids(study._study_id) == []  # fresh heartbeat: not stale
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
