"""`mfsearch train`: the recipe runs, a killed run resumes to the same weights, two gloo
processes agree, the weights load back, and bad input gets one line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import mfsearch
from mfsearch.cli import main
from mfsearch.families import build_model, load_model_spec

TINY = ["--res", "32", "--batch", "4", "--workers", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """Two classes of small coloured noise in train/ and val/ (sizes vary, as photos do)."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for split, count in (("train", 24), ("val", 8)):
        for c, channel in (("cat", 0), ("dog", 2)):
            (root / split / c).mkdir(parents=True)
            for i in range(count):
                a = (rng.random((20 + i % 5, 24, 3)) * 120).astype("uint8")
                a[..., channel] = 230
                Image.fromarray(a).save(root / split / c / f"{i}.png")
    return root


def _run(args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "mfsearch", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_a_killed_training_resumes_to_the_weights_of_an_uninterrupted_one(images, tmp_path):
    args = ["train", "26m", "--data", str(images), "--epochs", "4", *TINY]
    whole = _run([*args, "--out", str(tmp_path / "whole")])
    cut = _run([*args, "--out", str(tmp_path / "cut")])
    checkpoint = tmp_path / "cut" / "checkpoint.pt"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and cut.poll() is None:
        time.sleep(0.05)
    cut.send_signal(signal.SIGKILL)
    cut.communicate()
    errors = whole.communicate()[1]
    assert whole.returncode == 0, errors
    assert not (tmp_path / "cut" / "model.safetensors").exists()  # it really was cut short
    state = torch.load(checkpoint, weights_only=True)
    assert state["epoch"] < 3
    resumed = _run([*args, "--out", str(tmp_path / "cut")])
    output, errors = resumed.communicate()
    assert resumed.returncode == 0, errors
    assert f"resuming after epoch {state['epoch'] + 1}" in output
    for name in ("model.safetensors", "model-ema.safetensors"):
        a, b = load_file(tmp_path / "whole" / name), load_file(tmp_path / "cut" / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    history = (tmp_path / "cut" / "history.csv").read_text().splitlines()
    assert len(history) == 5 and history[0].startswith("epoch,train_loss,val_loss,val_top1")


def test_two_gloo_processes_hold_identical_weights(images, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", "-m", "mfsearch", "train", "26m", "--data",
                           str(images), "--epochs", "2", *TINY, "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads((out / "train.json").read_text())
    assert run["replicas"] == 2 and run["replicas_identical"] is True
    assert run["identity"]["processes"] == 2 and run["epochs"] == 2


def test_the_saved_weights_load_and_give_the_trained_models_logits(images, tmp_path):
    history = mfsearch.train("26m", images, epochs=1, resolution=32, batch=4, workers=0,
                             device="cpu", out=tmp_path)
    assert len(history) == 1 and 0 <= history[0]["val_top1"] <= 1
    trained = build_model(load_model_spec("26m").replace(num_classes=2), 32)
    trained.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=True)["model"])
    trained.eval()
    loaded = mfsearch.load_model(weights=tmp_path / "model.safetensors", resolution=32)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), trained(x))


def test_bad_training_input_gets_one_line(images, tmp_path, capsys):
    def error(argv):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        return err

    assert "unknown model 'nope'" in error(["train", "nope", "--epochs", "1"])
    empty = tmp_path / "empty"
    (empty / "only").mkdir(parents=True)
    assert "expected an ImageFolder layout" in error(["train", "26m", "--data", str(empty),
                                                      "--epochs", "1"])
    assert "--epochs: expected a positive integer, got 0" in error(
        ["train", "26m", "--data", str(images), "--epochs", "0"])
    out = tmp_path / "run"
    assert main(["train", "26m", "--data", str(images), "--epochs", "1", *TINY,
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert "holds another training: its settings differ" in error(
        ["train", "26m", "--data", str(images), "--epochs", "2", *TINY, "--out", str(out)])
