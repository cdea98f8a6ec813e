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


def test_verify_writes_the_table_and_the_verified_section_and_resumes(images, tmp_path,
                                                                      capsys):
    run = tmp_path / "search"
    mfsearch.search("150M", trials=2, proxy={"steps": 3}, finalists=1, confirm_seeds=1,
                    out=run)
    args = ["verify", str(run), "--epochs", "1", "--seeds", "2", "--data", str(images),
            "--res", "32", "--batch", "8", "--workers", "0", "--device", "cpu"]
    assert main(args) == 0
    report = json.loads((run / "report.json").read_text())
    verified = report["verified"]
    names = [verified["pick"]["name"], verified["control"]["name"],
             *(b["name"] for b in verified["baselines"])]
    assert names[1] == "mobile-former-151m" and names[2] == "mobilenetv3-large-075"
    assert len(verified["pick"]["scores"]) == 2 and verified["epochs"] == 1
    # One epoch of 6 steps teaches nothing: every design is named as such, none compared.
    assert verified["verdict"].startswith("Against the control mobile-former-151m: not "
                                          "comparable: mobile-former-151m did not learn")
    assert not verified["beats_control"] and len(verified["warnings"]) == 3
    text = (run / "report.md").read_text()
    assert text.count("## On real training") == 1 and "| mobile-former-151m (control, did not learn) |" in text
    trained = sorted(p.name for p in (run / "verify").iterdir())
    assert len(trained) == 6 and "mobile-former-151m-seed1" in trained
    capsys.readouterr()
    assert main(args) == 0  # a rerun trains nothing again and keeps one section
    assert capsys.readouterr().out.count("done already") == 6
    assert (run / "report.md").read_text().count("## On real training") == 1


def test_verify_refuses_a_folder_without_a_search(tmp_path, capsys):
    assert main(["verify", str(tmp_path), "--epochs", "1"]) == 2
    assert "no report.json" in capsys.readouterr().err


def test_the_ema_warms_up_its_decay_and_carries_integer_buffers():
    from mfsearch.training.loop import warmed_ema
    update = warmed_ema(0.999)
    mean, counter = torch.zeros(3), torch.tensor(0)
    update([mean, counter], [torch.ones(3), torch.tensor(7)], torch.tensor(1))
    assert torch.allclose(mean, torch.full((3,), 9 / 11))  # 1 - (1 + 1) / (10 + 1)
    assert int(counter) == 7
    update([mean], [torch.ones(3)], torch.tensor(10 ** 6))
    assert torch.allclose(mean, torch.full((3,), 9 / 11 + (2 / 11) * 0.001))
