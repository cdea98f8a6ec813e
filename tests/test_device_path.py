"""The accelerator path of proxy training, tested where CI runs (a CPU): capture safety of every
shipped variant, the eager fallback, parallel workers with CPU devices, the flags, and the CPU
path's logged trainings still valid."""

import json
import re
from pathlib import Path

import optuna
import pytest
import torch
from optuna.trial import TrialState

from mfsearch.cli import main
from mfsearch.data import builtin
from mfsearch.families import all_families, build_model, load_model_spec, variant_names
from mfsearch.proxy import device as device_mod
from mfsearch.proxy import steps as steps_mod
from mfsearch.proxy.config import ProxyConfig
from mfsearch.proxy.device import train, train_on_device
from mfsearch.proxy.options import DeviceOptions
from mfsearch.proxy.train import train_proxy
from mfsearch.fidelity import training_log
from mfsearch.fidelity.measure import sample_band
from mfsearch.nas.band import Band
from mfsearch.space import load_space

SHIPPED = [name for family in all_families() for name in variant_names(family)]
HOST_READS = ("item", "tolist", "cpu", "numpy")


def test_every_shipped_variant_runs_forward_and_backward_on_meta_without_host_reads(
        monkeypatch):
    """A captured CUDA graph may not wait on the host: a forward that reads a value back (an
    .item(), a .tolist(), a .cpu()) breaks capture. On the meta device no value exists, and the
    reads are also caught by name, so a future family cannot break capture unnoticed."""
    assert len(SHIPPED) >= 19
    calls = []
    for method in HOST_READS:
        original = getattr(torch.Tensor, method)

        def spy(self, *args, _name=method, _original=original, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, spy)
    for name in SHIPPED:
        with torch.device("meta"):
            model = build_model(load_model_spec(name), 32).train()
        logits = model(torch.empty(2, 3, 32, 32, device="meta"))
        assert logits.device.type == "meta" and logits.shape == (2, 1000), name
        logits.float().sum().backward()
        assert all(p.grad is not None for p in model.parameters() if p.requires_grad), name
        assert calls == [], f"{name}'s forward reads tensors back to the host: {calls}"


def test_the_device_path_on_a_cpu_trains_as_the_cpu_path_and_says_why_it_is_eager(capsys):
    spec = load_model_spec("mobile-former-26m")
    data = builtin(train_size=96, val_size=48)
    cfg = ProxyConfig(steps=6, batch_size=16, device="cpu", warmup=1, bn_calibration=32)
    steps = []
    steps_mod._NOTICED.clear()
    on_device = train_on_device(spec, data, cfg, DeviceOptions(), read_at=(3,),
                                progress=lambda n, loss: steps.append((n, loss)))
    err = capsys.readouterr().err
    assert err == "mfsearch: CUDA graphs need a CUDA device; training with eager steps\n"
    cpu_steps = []
    on_cpu = train_proxy(spec, data, cfg, progress=lambda n, loss: cpu_steps.append((n, loss)))
    # Same initialisation, same batches (the device's generator is the CPU's here), same
    # optimizer: the same losses bit for bit.
    assert steps == cpu_steps
    assert on_device.train_loss == on_cpu.train_loss
    assert on_device.final_loss == on_cpu.final_loss
    train_on_device(spec, data, cfg, DeviceOptions())
    assert capsys.readouterr().err == ""  # one line per process, not one per training


def test_cpu_trainings_keep_the_cpu_path(monkeypatch):
    """`train` sends CPU trainings to the unchanged CPU trainer, whatever the options."""
    seen = []
    monkeypatch.setattr(device_mod, "train_on_device", lambda *a, **k: seen.append("device"))
    monkeypatch.setattr(device_mod, "train_proxy", lambda *a, **k: seen.append("cpu"))
    train(None, None, ProxyConfig(device="cpu"), DeviceOptions(precision="bf16"))
    assert seen == ["cpu"]


def test_a_divergence_is_found_at_the_read_and_names_its_step():
    spec = load_model_spec("mobile-former-26m")
    data = builtin(train_size=64, val_size=32)
    cfg = ProxyConfig(steps=4, batch_size=16, device="cpu", warmup=1, lr=1e30)
    with pytest.raises(device_mod.TrainingDiverged, match=r"loss became (nan|inf|-inf) at step \d"):
        train_on_device(spec, data, cfg, DeviceOptions(graphs=False))


def test_the_logged_fidelity_trainings_keep_their_keys(monkeypatch):
    """The CPU path's code is what the shipped training log is keyed on: the accelerator path
    lives beside it, so the logged trainings stay valid (their key names torch 2.13.0+cpu and one
    thread)."""
    log_path = Path(__file__).resolve().parent.parent / "reports" / \
        "proxy_fidelity.trainings.jsonl"
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    logged = [e for e in lines if e["arch"] == "arch-1" and e["steps"] == 60
              and e["seed"] == 0][-1]  # a relogged training's last line counts
    monkeypatch.setattr(training_log.torch, "__version__", "2.13.0+cpu")
    space, band = load_space(None), Band(150_000_000, 0.1, "paper", 224)
    spec = sample_band(space, band, 1, 0)[0]
    log = training_log.TrainingLog(log_path, builtin(), threads=1)
    try:
        assert log.get(spec, ProxyConfig(device="cpu")) == logged["outcome"]
    finally:
        log.close()


def _trials(out: Path):
    storage = f"sqlite:///{out / 'study.db'}"
    return optuna.load_study(study_name="mfsearch", storage=storage).get_trials()


@pytest.mark.slow
def test_two_cpu_workers_search_one_study_and_lose_no_trial(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["budget", "150M", "--trials", "4", "--proxy-steps", "4", "--eta", "2",
                 "--finalists", "1", "--confirm-seeds", "1", "--devices", "cpu,cpu",
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "trainings: 2 at once (2 on cpu), one process each" in text
    trials = _trials(out)
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    evaluated = [t for t in trials if t.user_attrs.get("feasible")
                 and t.state in (TrialState.COMPLETE, TrialState.PRUNED)
                 and "duplicate_of" not in t.user_attrs]
    # Every worker stops once the study holds enough: at most one more per other worker.
    assert 4 <= len(evaluated) <= 5
    assert len({t.user_attrs["architecture"] for t in evaluated}) == len(evaluated)
    assert all(t.user_attrs["steps_trained"] == (4 if t.state == TrialState.COMPLETE else 2)
               for t in evaluated)
    report = json.loads((out / "report.json").read_text())
    assert report["pick"] is not None and len(report["seeds"]) == 2
    repeats = ("each training repeats bit for bit; the candidates tried vary from run to run "
               "(parallel workers' samplers are unseeded)")
    assert report["trainings"]["workers"] == ["cpu", "cpu"]
    assert report["trainings"]["repeats"] == repeats
    assert (f"- trainings: 2 at once (2 on cpu), one process each; {repeats}\n"
            in (out / "report.md").read_text())


@pytest.mark.parametrize("flags, message", [
    (["--devices", "tpu:0"], "--devices 'tpu:0': expected cpu, cuda or cuda:N"),
    (["--devices", "cpu,cuda:0"], None),
    (["--precision", "bf16", "--device", "cpu"],
     "--precision bf16 applies to CUDA trainings; this search trains on the CPU (use "
     "--device cuda)"),
])
def test_device_flags_fail_before_anything_is_written(tmp_path, capsys, flags, message):
    if message is None:  # depends on the machine: no CUDA here, or devices of two kinds
        message = ("--devices cuda:0: no CUDA device is available"
                   if not torch.cuda.is_available() else
                   "--devices cpu,cuda:0: use devices of one kind, the kind --device names "
                   "(auto)")
    out = tmp_path / "run"
    assert main(["budget", "150M", "--trials", "2", *flags, "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"mfsearch: error: {message}\n"
    assert not out.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_a_gpu_fails_before_the_study_is_made(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["budget", "150M", "--device", "cuda", "--out", str(out)]) == 2
    assert capsys.readouterr().err == ("mfsearch: error: --device cuda: no CUDA device is "
                                       "available\n")
    assert not out.exists()


def test_trainings_together_equal_trainings_one_at_a_time():
    """Interleaved in one thread (each on its own stream on CUDA), every training keeps its own
    model, batches and optimizer: on a CPU, without dropout (whose masks come from the shared
    generator in the order of the steps), each equals its training alone, bit for bit."""
    data = builtin(train_size=96, val_size=48)
    tasks = [(load_model_spec(name).replace(dropout=0.0),
              ProxyConfig(steps=steps, batch_size=16, device="cpu", warmup=1, seed=seed,
                          bn_calibration=32))
             for name, steps, seed in (("mobile-former-26m", 5, 0), ("mobile-former-52m", 3, 1))]
    together = device_mod.train_together(tasks, data, DeviceOptions(graphs=False))
    for (spec, cfg), result in zip(tasks, together):
        alone = train_on_device(spec, data, cfg, DeviceOptions(graphs=False))
        assert (result.train_loss, result.final_loss, result.accuracy, result.steps) == \
            (alone.train_loss, alone.final_loss, alone.accuracy, alone.steps)


def test_a_diverged_training_together_gives_its_reason_and_the_others_finish():
    data = builtin(train_size=64, val_size=32)
    spec = load_model_spec("mobile-former-26m")
    fine = ProxyConfig(steps=3, batch_size=16, device="cpu", warmup=1, bn_calibration=16)
    wild = ProxyConfig(steps=3, batch_size=16, device="cpu", warmup=1, lr=1e30)
    results = device_mod.train_together([(spec, wild), (spec, fine)], data,
                                        DeviceOptions(graphs=False))
    assert isinstance(results[0], device_mod.TrainingDiverged)
    assert re.fullmatch(r"loss became (nan|inf|-inf) at step \d", str(results[0]))
    assert 0 <= results[1].accuracy <= 1 and results[1].steps == 3
